// The capture agent: kernel batches in, JetStream messages out.
//
//   ring buffer ──(addon drain thread: partitioned by connection, coalesced; one call per batch)
//        ├─ raw messages (one partition's socket records) ─► adi.raw.v1.<host>.<p>, as they are
//        └─ side batches: process records ─► /proc read ─► ProcessFact (JSON) ─► adi.facts.v1.<host>.process
//                         connection opens ─► a process's first one: ProcessFact event "net"; listener rescan
//                         listen records (any process) ─► ListenersFact event listen/close ─► .listeners
//   every few seconds: counters ─► AgentStatsFact ─► adi.facts.v1.<host>.agent
//
// Nothing here blocks the drain thread: the addon drops (and counts) batches when JavaScript falls behind,
// the publisher drops (and counts) when the broker is away longer than its buffer lasts.
import { setTimeout as sleep } from "node:timers/promises";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { AdiConfig } from "@adi/shared";
import { readBootId, decideOptIn } from "@adi/shared";
import { ensureStreams } from "@adi/shared/nats";
import { encodeFact, nsToIso, OptinVerdict, WireFormatError, factSubject, rawSubject, sanitizeToken } from "@adi/shared/wire";
import type { AgentStatsFact, ListenersFact, ProcessFact, ConnRecord, ListenRecord, ProcRecord } from "@adi/shared/wire";
import { RedactionPolicy } from "@adi/shared/redaction";
import { JetStreamPublisher } from "./adapters/jetstream-publisher.ts";
import { dropCapabilities } from "./adapters/capabilities.ts";
import { loadKernelCapture, preflight } from "./adapters/kernel.ts";
import type { KernelCapture, KernelStats } from "./adapters/kernel.ts";
import { ListenerScanner, readListenerOwner, readOwnNetns } from "./adapters/listeners.ts";
import { scanListeningPorts } from "./adapters/listening-ports.ts";
import { listPids, readProcessSnapshot } from "./adapters/procfs.ts";
import type { ProcessSnapshot } from "./adapters/procfs.ts";
import { openCgroupResolver } from "./adapters/cgroupfs.ts";
import { readKernelBatch } from "./core/kernel-batches.ts";
import { captureRedaction, RawBatchMasker } from "./core/capture-redaction.ts";
import { buildProcessFact } from "./core/process-facts.ts";
import type { KernelProcessInfo } from "./core/process-facts.ts";
import { listenerFactOf, withV6Only } from "./core/listener-facts.ts";
import { ProcessLedger } from "./core/process-ledger.ts";

export const STATS_INTERVAL_MS = 5000;

const nowIso = () => nsToIso(BigInt(Date.now()) * 1_000_000n);

export interface CaptureAgent {
  readonly agentId: string;
  stats(): AgentStatsFact;
  /** Stops the kernel side, publishes what is buffered (up to drainMs), detaches. */
  stop(drainMs?: number): Promise<void>;
}

export interface CaptureAgentOptions {
  /**
   * Drop to RUNTIME_CAPABILITIES (adapters/capabilities.ts) once attached: `adi capture`, whose process is the
   * agent's own. Off for an agent embedded in another process (tests), which may need its capabilities later.
   */
  dropCapabilities?: boolean;
}

export async function startCaptureAgent(cfg: AdiConfig, nc: NatsConnection, log: Logger, opts: CaptureAgentOptions = {}): Promise<CaptureAgent> {
  preflight();
  await ensureStreams(nc, { maxAgeMs: cfg.streamMaxAgeMs, maxBytes: cfg.streamMaxBytes, replicas: cfg.streamReplicas, partitions: cfg.partitions });

  const host = sanitizeToken(cfg.host);
  const bootId = readBootId();
  const startedAt = Date.now();
  const agentId = `${host}-${bootId.slice(0, 8)}-${process.pid}-${startedAt}`;
  const policy = RedactionPolicy.fromConfig(cfg);
  const factOpts = { prefixes: cfg.envPrefixList, redaction: policy, allowed: cfg.profileAllowed };
  const publisher = new JetStreamPublisher(nc, {
    agentId,
    maxBufferBytes: cfg.publishBufferBytes,
    maxInflight: cfg.publishMaxInflight,
    log,
  });
  const counters = { malformedBatches: 0, unknownRecords: 0, invalidFacts: 0, procRecords: 0, undecidedOptins: 0, maskedRecords: 0 };
  // ADI_CAPTURE_REDACT: credentials in payloads masked before a raw message leaves the host (core/capture-redaction.ts).
  const redaction = captureRedaction(cfg);
  const rawMasker = redaction.on ? new RawBatchMasker({ names: policy.names, maskValues: (text) => policy.maskValues(text) }) : null;

  const publishFact = (fact: ProcessFact | AgentStatsFact | ListenersFact) => {
    const kind = fact.type === "process" ? "process" : fact.type === "listeners" ? "listeners" : "agent";
    try {
      publisher.enqueue(factSubject(host, kind), Buffer.from(encodeFact(fact)), 0);
    } catch (err) {
      counters.invalidFacts++;
      log.error({ err, fact }, "invalid fact not published");
    }
  };

  // The kernel's cgroup id of each record, resolved to its path: a process gone before /proc is read still gets
  // its cgroup and container (walked once here, again on a miss at most every 200 ms).
  const cgroups = openCgroupResolver(log);
  // What the kernel (and the start-up scan) said of each process, kept a while past its exit: a record that arrives
  // after /proc is gone still gets the names the kernel read at exec, and a first connection is marked once.
  const ledger = new ProcessLedger();
  const onProcRecord = (r: ProcRecord) => {
    const event = r.type === "proc_exec" ? "exec" : r.type === "proc_fork" ? "fork" : "exit";
    // The kernel's exit record carries the exec-time names since it looks them up in optin_names; the ledger is
    // the fallback (an exit whose names were evicted there, or an older object).
    const known = event === "exit" ? ledger.lookup(r.pid, r.startTicks) : undefined;
    const kernelInfo: KernelProcessInfo = {
      pid: r.pid,
      startTicks: r.startTicks,
      ppid: r.ppid,
      comm: r.comm,
      cmdline: r.cmdline,
      profile: r.profile || known?.profile || null,
      profileName: r.profileName || known?.profileName || null,
      optin: r.optin,
      cgroupPath: cgroups.resolve(r.cgroupId),
    };
    if (event === "exit") ledger.exited(r.pid, r.startTicks);
    else if (r.optin === OptinVerdict.yes || r.optin === OptinVerdict.undecided) ledger.remember(kernelInfo, { exec: event === "exec" });
    else ledger.exited(r.pid, r.startTicks); // an exec that opted out: the kernel no longer reports it
    let snapshot: ProcessSnapshot | undefined;
    let error: string | undefined;
    if (event !== "exit") {
      try {
        snapshot = readProcessSnapshot(r.pid);
      } catch (err) {
        error = (err as Error).message;
      }
    }
    try {
      publishFact(
        buildProcessFact(
          { event, ts: r.tsNs, host, bootId, snapshot, kernel: kernelInfo, error, exitCode: event === "exit" ? r.exitCode : null },
          factOpts,
        ),
      );
    } catch (err) {
      log.error({ err, tracedPid: r.pid }, "could not build a process fact");
    }
  };

  // A process's first connection (opened or accepted, TCP or UDP: the kernel reports only opted-in processes' ones):
  // a process fact marking its network activity, once per identity, so the environment inventory can list the
  // processes that made network calls. /proc while it is alive, else what the kernel said at its exec or fork.
  const onFirstConnection = (o: ConnRecord) => {
    let snapshot: ProcessSnapshot | undefined;
    let error: string | undefined;
    try {
      snapshot = readProcessSnapshot(o.pid);
    } catch (err) {
      error = (err as Error).message;
    }
    const known = ledger.lookup(o.pid, o.startTicks);
    const kernelInfo: KernelProcessInfo = known
      ? { ...known, cgroupPath: known.cgroupPath ?? cgroups.resolve(o.cgroupId) }
      : { pid: o.pid, startTicks: o.startTicks, ppid: null, comm: "", cmdline: "", profile: null, profileName: null, optin: "yes", cgroupPath: cgroups.resolve(o.cgroupId) };
    try {
      publishFact(buildProcessFact({ event: "net", ts: o.tsNs, host, bootId, snapshot, kernel: kernelInfo, error }, factOpts));
    } catch (err) {
      log.error({ err, tracedPid: o.pid }, "could not build a process fact");
    }
  };

  // An environment longer than the kernel walks at exec: decided here from /proc/PID/environ. The kernel
  // captured nothing of it meanwhile (never a process that opted out); one that is already gone stays undecided.
  const decideUndecided = (r: ProcRecord) => {
    counters.undecidedOptins++;
    let verdict = "undecided";
    try {
      const snapshot = readProcessSnapshot(r.pid);
      const decision = decideOptIn(snapshot.environ, cfg.profileAllowed);
      verdict = decision.verdict;
      if (verdict === "yes") kernel.optIn(r.pid, snapshot.startTicks, decision.profile, decision.name);
    } catch (err) {
      verdict = `undecided (${(err as Error).message})`;
    }
    log.warn({ tracedPid: r.pid, comm: r.comm, verdict }, "environment too long for the kernel's opt-in walk: decided from /proc");
  };

  // Listeners: published when the set changes; rescanned on a timer and as soon as a connection goes to or
  // comes from a local port nobody is known to listen on (so a destination is named from its first call).
  const scanner = new ListenerScanner();
  let listenerPorts = new Set<number>();
  let lastListeners = "";
  let rescanTimer: NodeJS.Timeout | undefined;
  let lastOnDemandAt = 0;
  // IPV6_V6ONLY of listeners ("ip|port"), known from the kernel's listen records only (/proc does not show it).
  const v6only = new Map<string, boolean>();
  const publishListeners = () => {
    rescanTimer = undefined;
    try {
      const listeners = withV6Only(scanner.scan(), v6only);
      listenerPorts = new Set(listeners.map((l) => l.port));
      const json = JSON.stringify(listeners);
      if (json === lastListeners) return;
      lastListeners = json;
      publishFact({ v: 1, type: "listeners", event: "scan", ts: nowIso(), host, boot_id: bootId, listeners });
    } catch (err) {
      log.warn({ err }, "listener scan failed");
    }
  };
  const LOCAL = /^(127\.|::1$|0\.0\.0\.0$|::$)/;

  // A socket entering or leaving LISTEN, in any process: a listener fact at once, the owner read from /proc while
  // it is alive (a server that answers one request and exits is gone before any rescan).
  const ownNetns = readOwnNetns(log);
  const onListenRecord = (r: ListenRecord) => {
    if (ownNetns !== null && r.netns !== ownNetns) return; // another namespace's: see listenerFactOf
    const fact = listenerFactOf(r, {
      host,
      bootId,
      netns: ownNetns,
      owner: readListenerOwner(r.pid),
      kernelName: ledger.lookup(r.pid, r.startTicks)?.profileName,
    });
    if (!fact) return;
    const key = `${r.tuple.laddr}|${r.tuple.lport}`;
    if (r.type === "listen_start") {
      if (v6only.size >= 65_536) v6only.clear(); // bounded: a scan refills what is still listening
      v6only.set(key, r.tuple.family === 6 && r.v6only);
      listenerPorts.add(r.tuple.lport);
    } else {
      v6only.delete(key);
    }
    publishFact(fact);
  };

  // The addon's drain thread partitions and coalesces the socket records (one message per partition and
  // ADI_BATCH_MAX_BYTES, or per ADI_FLUSH_INTERVAL_MS): a raw message is published as it comes. Side batches
  // carry the process records and a copy of each connection open.
  const onBatch = (batch: Buffer) => {
    let split;
    try {
      split = readKernelBatch(batch);
    } catch (err) {
      if (!(err instanceof WireFormatError)) throw err;
      counters.malformedBatches++;
      log.error({ err: err.message, bytes: batch.length }, "malformed batch from the kernel dropped");
      return;
    }
    if (split.kind === "raw") {
      if (rawMasker) {
        try {
          counters.maskedRecords += rawMasker.maskBatch(batch);
        } catch (err) {
          if (!(err instanceof WireFormatError)) throw err;
          counters.malformedBatches++; // not whole records: it cannot be masked, so it is not published
          log.error({ err: err.message, bytes: batch.length }, "malformed raw batch from the kernel dropped");
          return;
        }
      }
      publisher.enqueue(rawSubject(host, split.partition), batch, split.recordCount);
      return;
    }
    counters.unknownRecords += split.unknown;
    // Listen records become facts as process records do (the accounting identity counts them there).
    counters.procRecords += split.proc.length + split.listens.length;
    // In the kernel's order: a fork before its child's first connection, that before its exit.
    for (const r of split.records) {
      if (r.type === "conn_open") {
        if (ledger.markNet(r.pid, r.startTicks)) onFirstConnection(r);
        const localPort = r.role === "server" ? r.tuple.lport : LOCAL.test(r.tuple.raddr) ? r.tuple.rport : 0;
        if (localPort && !listenerPorts.has(localPort) && !rescanTimer) {
          // At most one on-demand scan a second: a port nobody listens on must not become a scan loop.
          const at = Math.max(Date.now() + 20, lastOnDemandAt + 1000);
          lastOnDemandAt = at;
          rescanTimer = setTimeout(publishListeners, at - Date.now());
        }
      } else if (r.type === "listen_start" || r.type === "listen_stop") {
        onListenRecord(r);
      } else if (r.type === "proc_exec" || r.type === "proc_fork" || r.type === "proc_exit") {
        if (r.type === "proc_exec" && r.optin === OptinVerdict.undecided) decideUndecided(r);
        onProcRecord(r);
      }
    }
  };

  const kernel: KernelCapture = loadKernelCapture({
    payloadLimit: cfg.payloadLimit,
    ringbufBytes: cfg.ringbufBytes,
    wakeupBytes: Math.min(cfg.batchMaxBytes, cfg.ringbufBytes / 4),
    maxBatchBytes: cfg.batchMaxBytes,
    flushIntervalMs: cfg.flushIntervalMs,
    maxQueuedBatches: Math.max(16, Math.floor(cfg.publishBufferBytes / cfg.batchMaxBytes)),
    selfPid: process.pid,
    connIdBase: BigInt(Math.floor(startedAt / 1000)) << 24n,
    allowedProfiles: cfg.profileAllowed ?? [],
    hooks: cfg.captureHooks,
    partitions: cfg.partitions,
    bootId,
  });
  // Attached, ring buffer mapped: from here on only other processes' /proc entries need privileges.
  const capabilities = opts.dropCapabilities ? dropCapabilities(log).kept : null;
  // Ports that were listening before we attached (the kernel follows listen() and close from now on).
  try {
    kernel.addListening(scanListeningPorts());
  } catch (err) {
    log.warn({ err }, "could not seed the listening ports: connections older than the agent may be given the client side");
  }
  kernel.start(onBatch);

  // Processes that were running before we attached: the kernel only decides at exec.
  let scanned = 0;
  for (const pid of listPids()) {
    if (pid === process.pid) continue;
    let snapshot: ProcessSnapshot;
    try {
      snapshot = readProcessSnapshot(pid);
    } catch {
      continue; // gone, or a kernel thread
    }
    const decision = decideOptIn(snapshot.environ, cfg.profileAllowed);
    if (decision.verdict !== "yes") continue;
    kernel.optIn(pid, snapshot.startTicks, decision.profile, decision.name);
    ledger.remember({
      pid,
      startTicks: snapshot.startTicks,
      ppid: snapshot.ppid,
      comm: snapshot.comm,
      cmdline: snapshot.cmdline,
      profile: decision.profile ?? null,
      profileName: decision.name ?? null,
      optin: "yes",
    });
    publishFact(buildProcessFact({ event: "scan", ts: nowIso(), host, bootId, snapshot }, factOpts));
    scanned++;
  }

  let lastKernelStats: KernelStats | undefined; // kept once the kernel side is closed
  const stats = (): AgentStatsFact => {
    const k = lastKernelStats ?? kernel.stats();
    const p = publisher.stats();
    return {
      v: 1,
      type: "agent_stats",
      ts: nowIso(),
      host,
      boot_id: bootId,
      agent_id: agentId,
      uptime_s: (Date.now() - startedAt) / 1000,
      kernel: { events: k.records, bytes: k.payloadBytes, drops: k.drops, drops_by_cpu: k.dropsByCpu },
      user: {
        batches_published: p.published,
        events_published: p.publishedRecords,
        bytes_published: p.publishedBytes,
        batches_dropped: p.droppedItems + k.batchesDropped,
        events_dropped: p.droppedRecords + k.recordsDropped,
        buffered_bytes: p.bufferedBytes,
        publish_retries: p.retries,
        process_events: counters.procRecords,
        malformed: counters.malformedBatches + counters.unknownRecords,
        optin_undecided: counters.undecidedOptins,
      },
    };
  };
  publishListeners();
  const statsTimer = setInterval(() => {
    publishFact(stats());
    publishListeners();
  }, STATS_INTERVAL_MS);
  const hooks = kernel.hooks();
  log.info(
    {
      agentId,
      host,
      scanned,
      partitions: cfg.partitions,
      payloadLimit: cfg.payloadLimit,
      captureRedaction: `${redaction.on ? "on" : "off"} (${redaction.why})`,
      hooks,
      capabilities: capabilities ?? "all (not dropped: embedded agent)",
      hooksDetail:
        hooks === "socket"
          ? "tp_btf sock:sock_send_length/sock_recv_length (no syscall tracepoints)"
          : `syscall tracepoints (${cfg.captureHooks === "syscall" ? "forced by ADI_CAPTURE_HOOKS" : "this kernel has no socket-layer BTF tracepoints"})`,
    },
    "ready",
  );

  let stopped = false;
  return {
    agentId,
    stats,
    async stop(drainMs = 5000) {
      if (stopped) return;
      stopped = true;
      clearInterval(statsTimer);
      clearTimeout(rescanTimer);
      kernel.stop(); // joins the drain thread after a last flush
      await sleep(100); // let the addon deliver the batches it queued
      lastKernelStats = kernel.stats();
      kernel.close();
      publishFact(stats());
      const drained = await publisher.drain(drainMs);
      const final = stats();
      log.info({ drained, kernel: final.kernel, user: final.user, maskedRecords: counters.maskedRecords }, "capture stopped");
      publisher.close();
    },
  };
}
