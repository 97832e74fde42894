// The kernel adapter: checks that this host can run the BPF program (privileges, BTF, tracefs), then loads
// the native addon, which owns the skeleton and the ring-buffer drain thread.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { adiError } from "@adi/shared";

export const ADDON_PATH = fileURLToPath(new URL("../../native/build/Release/adi_capture.node", import.meta.url));
const TRACEFS = "/sys/kernel/tracing";
const BTF = "/sys/kernel/btf/vmlinux";

export interface KernelCaptureOptions {
  payloadLimit: number;
  ringbufBytes: number;
  wakeupBytes: number;
  maxBatchBytes: number;
  flushIntervalMs: number;
  maxQueuedBatches: number;
  selfPid: number;
  connIdBase: bigint;
  allowedProfiles: readonly string[];
  /** ADI_CAPTURE_HOOKS: the data path to load ("auto": socket-layer where the kernel has it). */
  hooks: "auto" | "socket" | "syscall";
  /** ADI_PARTITIONS: the drain thread splits socket records by splitmix64(conn_id) % partitions. */
  partitions: number;
  /** Written into every raw message's batch header (32 hex digits, dashes allowed). */
  bootId: string;
}

/** A TCP port listening in a network namespace (inode of /proc/PID/ns/net) when capture started. */
export interface ListeningPort {
  netns: number;
  port: number;
  sockets: number;
}

export interface KernelDrops {
  ringbuf_full: number;
  payload_read: number;
  conn_table_full: number;
  args_table_full: number;
  no_tuple: number;
}

export interface KernelStats {
  records: number;
  payloadBytes: number;
  drops: KernelDrops;
  /** Per CPU (decimal index), only CPUs that dropped anything. */
  dropsByCpu: Record<string, KernelDrops>;
  batches: number;
  batchesDropped: number;
  recordsDropped: number;
  wallOffsetNs: bigint;
}

/** What the addon exports (services/capture/native/src/addon.cc). */
export interface KernelCapture {
  /** `onBatch` gets raw-stream messages ("ADIB") and side batches ("ADIX"): see core/kernel-batches.ts. */
  start(onBatch: (batch: Buffer) => void): void;
  /** Stops the drain thread after a last flush; batches already queued are still delivered. */
  stop(): void;
  /** Detaches every program and frees the maps. */
  close(): void;
  /** A process found running: `profile`/`name` (its ADI_PROFILE, ADI_PROFILE_NAME) name the forks it makes. */
  optIn(pid: number, startTicks: number | bigint, profile?: string, name?: string): void;
  optOut(pid: number): void;
  optedIn(): number[];
  stats(): KernelStats;
  /** Seeds the kernel's listening-ports map (it keeps it up to date from then on): servers are told from clients by it. */
  addListening(ports: readonly ListeningPort[]): void;
  /** The data path that was loaded. */
  hooks(): "socket" | "syscall";
}

const CAP_SYS_ADMIN = 21n;
const CAP_PERFMON = 38n;
const CAP_BPF = 39n;

function effectiveCaps(): bigint {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"));
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

/** Refuses clearly, before libbpf does obscurely. Mounts tracefs when it is missing. */
export function preflight(): void {
  const caps = effectiveCaps();
  const has = (c: bigint) => (caps & (1n << c)) !== 0n;
  if (!(has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON)))) {
    throw adiError("ADI_ERR_NOT_ROOT", `running as uid ${process.getuid?.()} without CAP_BPF+CAP_PERFMON or CAP_SYS_ADMIN`);
  }
  if (!existsSync(BTF)) throw adiError("ADI_ERR_NO_BTF", `${BTF} does not exist`);
  if (!existsSync(`${TRACEFS}/events`)) {
    const r = spawnSync("mount", ["-t", "tracefs", "nodev", TRACEFS], { encoding: "utf8" });
    if (r.status !== 0 || !existsSync(`${TRACEFS}/events`)) {
      throw adiError("ADI_ERR_TRACEFS", `mount -t tracefs nodev ${TRACEFS} failed: ${(r.stderr || r.error?.message || "").trim()}`);
    }
  }
}

export function loadKernelCapture(opts: KernelCaptureOptions): KernelCapture {
  if (!existsSync(ADDON_PATH)) throw adiError("ADI_ERR_ADDON_MISSING", `${ADDON_PATH} does not exist`);
  const require = createRequire(import.meta.url);
  const addon = require(ADDON_PATH) as { Capture: new (o: object) => KernelCapture };
  try {
    return new addon.Capture({ ...opts, allowedProfiles: [...opts.allowedProfiles] });
  } catch (err) {
    throw adiError("ADI_ERR_BPF_LOAD", (err as Error).message, err);
  }
}
