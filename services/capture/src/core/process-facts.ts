// Turns what /proc showed (preferred: complete) and what the kernel reported (the fallback when the
// process was gone before /proc could be read) into one validated ProcessFact. The cgroup is the kernel's
// when it knows it: the cgroup the process was in when the record was made, whether or not /proc could be read.
// The command line and the environment are redacted here (the policy's cmdline and env categories), before the
// fact is published: ADI_FACTS never holds a password given as an argument or a token in an env value.
import { decideOptIn, optinVerdictFromKernel, type OptInVerdict } from "@adi/shared";
import { filterAndRedactEnv, type RedactionPolicy } from "@adi/shared/redaction";
import { nsToIso, ProcessFactSchema, type ProcessFact } from "@adi/shared/wire";
import type { ProcessSnapshot } from "../adapters/procfs.ts";
import { parseCgroupFile, parseCgroupPath, type CgroupInfo } from "./cgroup.ts";

/** What a process event from the kernel carries (adi_proc_event), decoded. */
export interface KernelProcessInfo {
  readonly pid: number;
  readonly startTicks: number;
  readonly ppid: number | null;
  readonly comm: string;
  /** Arguments, or already joined by spaces (see formatCmdline). */
  readonly cmdline: string | readonly string[];
  /** ADI_PROFILE as the kernel read it at exec; empty or null when absent. */
  readonly profile: string | null;
  readonly profileName: string | null;
  /** Verdict name, or the kernel's number (enum adi_optin_verdict). */
  readonly optin: OptInVerdict | number;
  /**
   * The cgroup v2 path the record's cgroup id resolved to (adapters/cgroupfs.ts), as /proc/PID/cgroup shows
   * it; null or absent when the id was 0 or did not resolve.
   */
  readonly cgroupPath?: string | null | undefined;
}

export interface ProcessFactInput {
  readonly event: ProcessFact["event"];
  /** RFC 3339 with nanoseconds, or UTC nanoseconds since the epoch. */
  readonly ts: string | bigint;
  readonly host: string;
  readonly bootId: string;
  readonly snapshot?: ProcessSnapshot | undefined;
  readonly kernel?: KernelProcessInfo | undefined;
  /** Why /proc could not be read, e.g. ProcfsError's message. */
  readonly error?: string | undefined;
  readonly exitCode?: number | null | undefined;
}

export interface ProcessFactOptions {
  readonly prefixes?: readonly string[] | undefined;
  /** Redacts cmdline (category cmdline) and env (category env: by name and by value): RedactionPolicy.fromConfig. */
  readonly redaction: RedactionPolicy;
  readonly allowed?: readonly string[] | undefined;
}

/**
 * Builds and validates a fact. The environment is reported only for processes that opted in ("yes"):
 * the inventory must not become a copy of every environment on the host. When the snapshot's start time
 * differs from the kernel's, the pid was reused: the snapshot describes another process and is ignored.
 */
export function buildProcessFact(input: ProcessFactInput, opts: ProcessFactOptions): ProcessFact {
  const { kernel } = input;
  let { snapshot } = input;
  let error = input.error ?? null;
  if (snapshot && kernel && (snapshot.pid !== kernel.pid || snapshot.startTicks !== kernel.startTicks)) {
    error ??= `process ${kernel.pid} was replaced before /proc could be read (start ticks ${kernel.startTicks}, /proc shows pid ${snapshot.pid} started at ${snapshot.startTicks})`;
    snapshot = undefined;
  }
  const identity = snapshot ?? kernel;
  if (!identity) throw new TypeError("buildProcessFact needs a /proc snapshot or the kernel's report");

  // An environment read empty while the kernel saw the exec is a process caught exiting (its memory is released
  // before it turns zombie, and environ then reads as nothing): the kernel's verdict, not "none" (a CI flake).
  const environRead = snapshot !== undefined && (Object.keys(snapshot.environ).length > 0 || kernel === undefined);
  const optIn = environRead ? decideOptIn(snapshot!.environ, opts.allowed) : kernelOptIn(kernel!);
  const env =
    snapshot && optIn.verdict === "yes"
      ? filterAndRedactEnv(snapshot.environ, { prefixes: opts.prefixes, redaction: opts.redaction })
      : {};
  const cgroup = pickCgroup(kernel?.cgroupPath ? parseCgroupPath(kernel.cgroupPath) : null, snapshot ? parseCgroupFile(snapshot.cgroupText) : null);

  return ProcessFactSchema.parse({
    v: 1,
    type: "process",
    event: input.event,
    ts: typeof input.ts === "bigint" ? nsToIso(input.ts) : input.ts,
    host: input.host,
    boot_id: input.bootId,
    pid: identity.pid,
    start_ticks: identity.startTicks,
    ppid: snapshot?.ppid ?? kernel?.ppid ?? null,
    comm: snapshot?.comm ?? kernel!.comm,
    exe: snapshot?.exe ?? null,
    // A process may exit between its stat and cmdline reads; keep whichever source has arguments.
    cmdline: redactedCmdline(snapshot, kernel, opts.redaction),
    cgroup: cgroup?.path ?? null,
    container_id: cgroup?.containerId ?? null,
    adi_profile_match: optIn.profile ?? null,
    adi_profile_name: optIn.name ?? null,
    optin: optIn.verdict,
    env,
    env_redacted: opts.redaction.enabled("env"),
    error,
    exit_code: input.exitCode ?? null,
  } satisfies ProcessFact);
}

/**
 * The kernel's cgroup, unless only /proc names a container: the kernel's id is the cgroup v2 one, and on a hybrid
 * host a runtime may keep containers in the v1 hierarchies only (the v2 path is then the root, /proc's v1 lines
 * name the container). Otherwise the kernel's path, else /proc's.
 */
function pickCgroup(fromKernel: CgroupInfo | null, fromProc: CgroupInfo | null): CgroupInfo | null {
  if (fromKernel?.containerId) return fromKernel;
  if (fromProc?.containerId) return fromProc;
  return fromKernel ?? fromProc;
}

/**
 * The command line as published: /proc's when it has arguments, else the kernel's, redacted argument by argument
 * when the arguments are known (argv), else word by word (a joined string: see RedactionPolicy.cmdline).
 */
function redactedCmdline(snapshot: ProcessSnapshot | undefined, kernel: KernelProcessInfo | undefined, redaction: RedactionPolicy): string {
  if (snapshot?.cmdline) return snapshot.argv ? redaction.argv(snapshot.argv).join(" ") : redaction.cmdline(snapshot.cmdline);
  if (!kernel) return "";
  return typeof kernel.cmdline === "string" ? redaction.cmdline(kernel.cmdline) : redaction.argv(kernel.cmdline).join(" ");
}

function kernelOptIn(kernel: KernelProcessInfo): { verdict: OptInVerdict; profile?: string; name?: string } {
  const verdict = typeof kernel.optin === "number" ? optinVerdictFromKernel(kernel.optin) : kernel.optin;
  return {
    verdict,
    ...(kernel.profile ? { profile: kernel.profile } : {}),
    ...(kernel.profileName ? { name: kernel.profileName } : {}),
  };
}
