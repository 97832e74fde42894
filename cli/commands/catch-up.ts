// Between stopping capture and stopping the consumers of `adi up` / `adi demo`: the agent's last batches (what it
// flushed on the way out) must still be classified and mapped, or the outputs end early. A fixed pause is too long
// when idle and too short at saturation, when the consumers lag by seconds; this asks JetStream instead.
import { setTimeout as sleep } from "node:timers/promises";
import { jetstreamManager } from "@nats-io/jetstream";
import type { JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { DERIVED_STREAM, DERIVED_SUBJECT_PREFIX, RAW_STREAM } from "@adi/shared/wire";

/** What the consumers of this process can tell about their progress. */
export interface CatchUpProbes {
  /** Raw partitions whose durable consumer (`adi-classifier-p<p>`) this process's classifier runs. */
  classifierPartitions?: () => number[];
  /** Derived messages this process's mapper has taken so far (it reads ADI_DERIVED from its first message). */
  mapperTaken?: () => number;
}

export interface CatchUpResult {
  caughtUp: boolean;
  waitedMs: number;
  /** What was still outstanding when it gave up (zeros when caught up). */
  rawPending: number;
  derivedPending: number;
}

/** Raw batches delivered to none of `partitions`' classifier consumers yet, or not yet acknowledged. */
async function rawPending(jsm: JetStreamManager, partitions: readonly number[]): Promise<number> {
  const infos = await Promise.all(partitions.map((p) => jsm.consumers.info(RAW_STREAM, `adi-classifier-p${p}`).catch(() => null)));
  return infos.reduce((sum, info) => sum + (info ? info.num_pending + info.num_ack_pending : 0), 0);
}

/** Derived messages (current subjects only: a stream from an older release keeps its old ones) not taken yet. */
async function derivedPending(jsm: JetStreamManager, taken: number): Promise<number> {
  const info = await jsm.streams.info(DERIVED_STREAM, { subjects_filter: `${DERIVED_SUBJECT_PREFIX}.>` });
  const stored = Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
  return Math.max(0, stored - taken);
}

/**
 * Polls every `pollMs` until the classifier consumers have nothing pending or unacknowledged (an ack follows the
 * batch's derived messages being stored), then until the mapper has taken every derived message stored: by then
 * both have consumed what capture published (and any older backlog). Gives up after `timeoutMs`, a JetStream
 * request in flight included. Never throws: a JetStream error counts as "not caught up yet".
 */
export async function waitForCatchUp(nc: NatsConnection, probes: CatchUpProbes, timeoutMs: number, pollMs = 100): Promise<CatchUpResult> {
  const started = Date.now();
  let jsm: JetStreamManager | undefined;
  let raw = 0;
  let derived = 0;
  const poll = async (): Promise<boolean> => {
    jsm ??= await jetstreamManager(nc);
    raw = await rawPending(jsm, probes.classifierPartitions?.() ?? []);
    derived = raw === 0 && probes.mapperTaken ? await derivedPending(jsm, probes.mapperTaken()) : 0;
    return raw === 0 && derived === 0;
  };
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, started + timeoutMs - Date.now()))));
    // a JetStream error (the broker is slow or away) counts as not caught up: try again until the deadline
    const caughtUp = await Promise.race([poll().catch(() => false), deadline]);
    clearTimeout(timer);
    const waitedMs = Date.now() - started;
    if (caughtUp) return { caughtUp, waitedMs, rawPending: 0, derivedPending: 0 };
    if (waitedMs >= timeoutMs) return { caughtUp, waitedMs, rawPending: raw, derivedPending: derived };
    await sleep(pollMs);
  }
}
