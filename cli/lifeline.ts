// An adi process started by another adi process (the capture agent of `adi up` / `adi demo`, or the CLI run by
// bin/adi.mjs on a Node without process.execve) is joined to its parent by a Node IPC channel. The kernel closes
// the parent's end when the parent dies, however it dies (SIGKILL included), so the channel's `disconnect` is the
// signal to stop: no adi process outlives the one a user or a supervisor started. The same channel carries the
// one message a child sends its parent: that it is ready.

/** Set (to "1") by a parent that stops its child itself, with SIGTERM, when it is stopped. */
export const STOPPED_BY_PARENT_VAR = "ADI_STOPPED_BY_PARENT";

// Read once and removed, so that nothing this process starts inherits it.
const stoppedByParent = process.env[STOPPED_BY_PARENT_VAR] === "1" && process.channel !== undefined;
delete process.env[STOPPED_BY_PARENT_VAR];

/** The message a child sends when what it runs is ready (`isReadyMessage` recognises it). */
const READY = { adi: "ready" } as const;

/**
 * When this process has an IPC channel (it was spawned with "ipc" in its stdio), stops it gracefully once the
 * channel closes: a SIGTERM to itself, which the commands handle as a stop request (capture flushes what it
 * buffered); a process that handles no signal simply ends. Without a channel it does nothing. The channel is
 * unreferenced, so it never keeps the process alive by itself. A child its parent stops (`isStoppedByParent`)
 * ignores SIGINT from here on. Call it first thing.
 */
export function stopWhenParentDies(): void {
  const channel = process.channel;
  if (!channel) return;
  // From the start: a Ctrl-C while the agent is still loading must not kill it either.
  if (stoppedByParent) process.on("SIGINT", () => undefined);
  channel.unref();
  process.once("disconnect", () => process.kill(process.pid, "SIGTERM"));
}

/**
 * True when the adi process that started this one stops it (with SIGTERM, in its own order): then SIGINT, which a
 * Ctrl-C in the terminal sends to the whole process group, is the parent's to handle, not ours.
 */
export function isStoppedByParent(): boolean {
  return stoppedByParent;
}

/** Tells the parent (if there is one on an IPC channel) that this process is ready. Never throws. */
export function notifyParentReady(): void {
  if (!process.connected || !process.send) return;
  try {
    process.send(READY);
  } catch {
    // the parent is gone: stopWhenParentDies handles that
  }
}

/** True for the message `notifyParentReady` sends. */
export function isReadyMessage(message: unknown): boolean {
  return typeof message === "object" && message !== null && (message as { adi?: unknown }).adi === READY.adi;
}
