// Reads processes from /proc. Synchronous on purpose: these files live in memory, and reading right when
// an exec event is handled (no thread-pool hop) catches more short-lived processes before they exit.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { getSystemErrorMessage } from "node:util";
import { parseEnviron } from "@adi/shared/redaction";

export interface ProcessSnapshot {
  readonly pid: number;
  /** Start time in USER_HZ ticks since boot (field 22 of stat): pid + startTicks identify the process. */
  readonly startTicks: number;
  readonly ppid: number;
  readonly comm: string;
  /** Target of /proc/PID/exe; null for kernel threads or when it cannot be read. */
  readonly exe: string | null;
  /** Arguments joined by one space. */
  readonly cmdline: string;
  /** The arguments themselves (cmdline's words, for argument-wise redaction); absent in older snapshots. */
  readonly argv?: readonly string[];
  readonly cgroupText: string;
  readonly environ: Record<string, string>;
}

/** A failed /proc read, worded like Go's os errors: `open /proc/42/environ: no such file or directory`. */
export class ProcfsError extends Error {
  override readonly name = "ProcfsError";
  /** errno name (ENOENT, EACCES, ESRCH…). ENOENT and ESRCH mean the process is gone. */
  readonly code: string;
  readonly path: string;

  constructor(op: string, path: string, code: string, reason: string) {
    super(`${op} ${path}: ${reason}`);
    this.code = code;
    this.path = path;
  }
}

export interface StatFields {
  readonly pid: number;
  readonly comm: string;
  readonly state: string;
  readonly ppid: number;
  readonly startTicks: number;
}

/**
 * Parses /proc/PID/stat. comm sits between the first '(' and the LAST ')': it may itself hold spaces
 * and parentheses ("(sd-pam)", "my) (prog"), so splitting on spaces or stopping at the first ')' breaks.
 */
export function parseStat(text: string): StatFields {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) throw new TypeError(`malformed stat line: ${JSON.stringify(text.slice(0, 80))}`);
  const pid = Number(text.slice(0, open).trim());
  // After ") ": field 3 (state) onwards, so field N is at index N - 3.
  const fields = text.slice(close + 2).trim().split(" ");
  const state = fields[0] ?? "";
  const ppid = Number(fields[4 - 3]);
  const startTicks = Number(fields[22 - 3]);
  if (!Number.isSafeInteger(pid) || !Number.isSafeInteger(ppid) || !Number.isSafeInteger(startTicks) || state === "") {
    throw new TypeError(`malformed stat line: ${JSON.stringify(text.slice(0, 80))}`);
  }
  return { pid, comm: text.slice(open + 1, close), state, ppid, startTicks };
}

/**
 * /proc/PID/cmdline (NUL-separated arguments) as one string joined by spaces, as the Go tool printed it.
 * Trailing NULs go first: processes that rewrite their title (nginx, postgres) pad with them.
 * Also suits the kernel's NUL-separated cmdline in exec events.
 */
export function formatCmdline(buf: Uint8Array): string {
  let end = buf.length;
  while (end > 0 && buf[end - 1] === 0) end--;
  return Buffer.from(buf.buffer, buf.byteOffset, end).toString("utf8").replaceAll("\0", " ");
}

/** /proc/PID/cmdline as its arguments (trailing NUL padding dropped, as formatCmdline does). */
export function splitCmdline(buf: Uint8Array): string[] {
  let end = buf.length;
  while (end > 0 && buf[end - 1] === 0) end--;
  return end === 0 ? [] : Buffer.from(buf.buffer, buf.byteOffset, end).toString("utf8").split("\0");
}

/** How a snapshot waits out an exec in progress (readProcessSnapshot). */
export interface SnapshotOptions {
  /** Reads again this many times while the process is caught inside an exec. Default 20. */
  execRetries?: number;
  /** Blocks for `ms` between those reads. Default: a synchronous 1 ms wait (Atomics.wait). */
  pause?: (ms: number) => void;
}

const pauseCell = new Int32Array(new SharedArrayBuffer(4));
/** A synchronous wait: the reads around it are synchronous on purpose (see the top of the file). */
function pauseSync(ms: number): void {
  Atomics.wait(pauseCell, 0, 0, ms);
}

/**
 * Reads one process. Throws ProcfsError when it vanished (or was replaced) while being read.
 *
 * A process caught inside execve() has its new image's exe and comm but neither arguments nor environment yet:
 * the kernel installs the new mm (begin_new_exec) before it copies argv and envp into it (create_elf_tables), and
 * /proc/PID/cmdline and environ read as zero bytes until then (fs/proc/base.c: arg_end and env_end are 0). Read
 * in that window (an exec event handled while the process execs again: `setpriv ... python3`), the fact would
 * show the new program with an empty environment (a CI flake, issue 12). A live process with an exe, no argument
 * bytes at all (even `argc == 0` leaves one NUL since Linux 5.18) and no environment is in that window: it is
 * read again, every `pause` ms up to `execRetries` times, and returned as last read if it stays so.
 */
export function readProcessSnapshot(pid: number, procRoot = "/proc", opts: SnapshotOptions = {}): ProcessSnapshot {
  const retries = opts.execRetries ?? 20;
  const pause = opts.pause ?? pauseSync;
  for (let attempt = 0; ; attempt++) {
    const read = readOnce(pid, procRoot);
    if (!read.inExec || attempt >= retries) return read.snapshot;
    pause(1);
  }
}

function readOnce(pid: number, procRoot: string): { snapshot: ProcessSnapshot; inExec: boolean } {
  const dir = `${procRoot}/${pid}`;
  const stat = parseStat(read(`${dir}/stat`).toString("utf8"));
  if (isDead(stat.state)) throw gone(dir);
  const cmdlineBytes = read(`${dir}/cmdline`);
  const cmdline = formatCmdline(cmdlineBytes);
  const argv = splitCmdline(cmdlineBytes);
  const cgroupText = read(`${dir}/cgroup`).toString("utf8");
  const environBytes = read(`${dir}/environ`);
  const environ = parseEnviron(environBytes);
  const exe = readExe(`${dir}/exe`);
  // The pid may have been reused between the first read and the last: the start time tells.
  const after = parseStat(read(`${dir}/stat`).toString("utf8"));
  if (after.startTicks !== stat.startTicks) throw gone(dir, " (pid reused while reading)");
  // A zombie's memory is gone: its cmdline and environ read as empty instead of failing.
  if (isDead(after.state) && cmdline === "" && Object.keys(environ).length === 0) throw gone(dir);
  const snapshot = { pid, startTicks: stat.startTicks, ppid: stat.ppid, comm: stat.comm, exe, cmdline, argv, cgroupText, environ };
  // Kernel threads have no exe: they are not in an exec, they simply have no memory of their own.
  return { snapshot, inExec: exe !== null && cmdlineBytes.length === 0 && environBytes.length === 0 };
}

function isDead(state: string): boolean {
  return state === "Z" || state === "X";
}

function gone(dir: string, why = ""): ProcfsError {
  return new ProcfsError("open", `${dir}/environ`, "ESRCH", `no such process${why}`);
}

/** Every numeric entry of /proc, ascending. */
export function listPids(procRoot = "/proc"): number[] {
  let names: string[];
  try {
    names = readdirSync(procRoot);
  } catch (err) {
    throw toProcfsError("open", procRoot, err);
  }
  return names
    .filter((name) => /^[1-9]\d*$/.test(name))
    .map(Number)
    .sort((a, b) => a - b);
}

function read(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw toProcfsError("open", path, err);
  }
}

/** Kernel threads have no exe, and other users' processes refuse it without privileges: both give null. */
function readExe(path: string): string | null {
  try {
    return readlinkSync(path);
  } catch {
    return null;
  }
}

function toProcfsError(op: string, path: string, err: unknown): ProcfsError {
  const e = err as NodeJS.ErrnoException;
  const code = e.code ?? "EIO";
  // Go prints strerror in lower case: "no such file or directory", "permission denied".
  const text = typeof e.errno === "number" ? getSystemErrorMessage(e.errno) : (e.message ?? String(err));
  return new ProcfsError(op, path, code, text.charAt(0).toLowerCase() + text.slice(1));
}
