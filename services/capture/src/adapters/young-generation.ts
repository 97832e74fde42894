// Keeps V8's young generation (new space) of the capture agent small.
//
// V8 grows the new space by doubling, up to a maximum derived from the machine's memory (64 MiB and more on a
// 24 GB host), and under a steady allocation rate it never shrinks it again. The agent's allocations are
// short-lived (a batch lives until JetStream acknowledges it), so a big nursery buys no CPU but costs resident
// memory: measured under ~10,000 HTTP exchanges/s, the new space alone was 64 MiB of the agent's RSS.
//
// The clean cap is `node --max-semi-space-size=N`, which only the launcher can pass; it is read when the heap is
// set up. At run time V8 still reads --semi-space-growth-factor each time it grows the new space, and a
// memory-reducing GC shrinks it. So: one such GC once the agent is up (the new space has grown while the modules
// loaded) and from then on growth only while the new space is below the cap. A launcher that sets
// --max-semi-space-size (or NODE_OPTIONS) wins: nothing is done then.
import { getHeapSpaceStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

export interface YoungGenerationCap {
  /** Stops watching; the growth factor is left as it is. */
  stop(): void;
}

type Gc = (o: { type: "major"; execution: "sync"; flavor: "last-resort" }) => void;

const newSpaceBytes = () => getHeapSpaceStatistics().find((s) => s.space_name === "new_space")?.space_size ?? 0;

const setByLauncher = () =>
  [...process.execArgv, ...(process.env.NODE_OPTIONS ?? "").split(/\s+/)].some((a) => /^--(max-semi-space-size|semi-space-growth-factor|max-young-generation-size)/.test(a.replace(/_/g, "-")));

/**
 * Caps the new space near `maxBytes` (both semi-spaces): shrinks it now, then checks every `everyMs` and lets it
 * grow (V8's factor 2) only while it is below the cap. Returns undefined when the launcher sized it already.
 */
export function capYoungGeneration(maxBytes: number, everyMs = 1000): YoungGenerationCap | undefined {
  if (setByLauncher()) return undefined;
  let growing = true;
  const check = () => {
    const grow = newSpaceBytes() < maxBytes;
    if (grow === growing) return;
    growing = grow;
    setFlagsFromString(`--semi-space-growth-factor=${grow ? 2 : 1}`);
  };
  try {
    // gc() is only handed to contexts created after --expose-gc; the main context stays without it.
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as Gc | undefined;
    setFlagsFromString("--no-expose-gc");
    gc?.({ type: "major", execution: "sync", flavor: "last-resort" });
  } catch {
    // no memory-reducing GC available: the cap still stops further growth
  }
  check();
  const timer = setInterval(check, everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
