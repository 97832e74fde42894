// The durable streams every service meets through. Capture creates them (or updates their limits) at start;
// consumers only bind to them. Replicas > 1 needs a JetStream cluster with at least that many servers.
import { DiscardPolicy, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import type { StreamConfig } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { adiError } from "../errors.ts";
import { isAlreadyExists, isStreamNotFound, isTransient } from "./errors.ts";
import { retryWithBackoff } from "./retry.ts";
import { partitionsOfSubjects, RAW_STREAM, rawPartitionSubjects, STREAMS } from "../wire/subjects.ts";

export interface StreamLimits {
  maxAgeMs: number;
  /** -1: unlimited */
  maxBytes: number;
  replicas: number;
  /**
   * The producer's ADI_PARTITIONS. Only the capture agent passes it: ADI_RAW then stores exactly the subjects of
   * these partitions (`rawPartitionSubjects`), which is how the count travels with the stream. Consumers leave it
   * out: they read the count from the stream (`rawStreamContract`) and never change ADI_RAW's subjects.
   */
  partitions?: number;
}

/** Publish retries reuse their message id; the server drops repeats seen within this window. */
export const DUPLICATE_WINDOW_MS = 120_000;

export function streamConfigs(limits: StreamLimits): (Partial<StreamConfig> & { name: string })[] {
  return Object.values(STREAMS).map((s) => ({
    name: s.name,
    subjects: s.name === RAW_STREAM && limits.partitions !== undefined ? rawPartitionSubjects(limits.partitions) : [...s.subjects],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: limits.maxAgeMs > 0 ? nanos(limits.maxAgeMs) : 0,
    max_bytes: limits.maxBytes,
    num_replicas: limits.replicas,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
  }));
}

/**
 * Creates the streams, or brings an existing stream's limits to the configured ones. Retries for up to `waitMs`
 * (250 ms doubling to 2 s) while a JetStream cluster is still forming (isTransient: peers joining, no leader yet);
 * past it, or on any other error, rejects with the error itself.
 */
export async function ensureStreams(nc: NatsConnection, limits: StreamLimits, waitMs = 30_000): Promise<void> {
  await retryWithBackoff(() => ensureStreamsOnce(nc, limits), {
    what: "create the streams",
    timeoutMs: waitMs,
    initialMs: 250,
    maxMs: 2000,
    jitter: 0,
    retryIf: isTransient,
    rethrowAtTimeout: true,
  });
}

async function ensureStreamsOnce(nc: NatsConnection, limits: StreamLimits): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (const cfg of streamConfigs(limits)) {
    const name = cfg.name;
    // Only "not found" means "create it": a timeout swallowed here let a stalled broker's start pass unnoticed and
    // made the add below the only request that could fail (a flaky start, issue 10's CI run).
    let existing = await jsm.streams.info(name).catch((err: unknown) => {
      if (isStreamNotFound(err)) return null;
      throw err;
    });
    if (!existing) {
      const added = await jsm.streams.add(cfg).then(() => true, (err: unknown) => {
        // Another service created it between our look and our add (a classifier and the agent start together).
        if (!isAlreadyExists(err)) throw err;
        return false;
      });
      if (added) continue;
      existing = await jsm.streams.info(name);
    }
    const { name: _n, storage: _s, retention: _r, ...updatable } = cfg;
    const c = existing.config;
    let subjects = updatable.subjects ?? [];
    if (name === RAW_STREAM) {
      const stored = partitionsOfSubjects(c.subjects ?? []);
      if (limits.partitions === undefined) subjects = c.subjects ?? subjects; // consumers never change the contract
      else if (stored !== undefined && stored !== limits.partitions) {
        // Refused, not adopted: a connection's partition is splitmix64(conn_id) mod N, so agents with different N
        // would split connections across partitions; adopting silently would hide a configuration error.
        throw adiError(
          "ADI_ERR_CONFIG",
          `ADI_PARTITIONS=${limits.partitions} but stream ${RAW_STREAM} holds ${stored} partitions: set ADI_PARTITIONS=${stored}, or delete the stream to change the count`,
        );
      }
    }
    if (
      c.max_age !== updatable.max_age ||
      c.max_bytes !== updatable.max_bytes ||
      c.num_replicas !== updatable.num_replicas ||
      c.duplicate_window !== updatable.duplicate_window ||
      // A new wire version (adi.derived.v1 -> v2) moves a stream created by an older release onto its subjects; a
      // raw stream without a partition count (made by a consumer first, or an older release) gets the producer's.
      (c.subjects ?? []).join(" ") !== subjects.join(" ")
    ) {
      await jsm.streams.update(name, { ...c, ...updatable, subjects });
    }
  }
}

/** What a consumer of ADI_RAW needs to know of the stream: its partition count and the bounds of what it holds. */
export interface RawStreamContract {
  /** The count ADI_RAW's subjects state; undefined while no producer set one (subjects `adi.raw.v1.>`). */
  partitions: number | undefined;
  /** The stream's max age, ms (0: unlimited). */
  maxAgeMs: number;
  /** First and last stream sequence held now (first > last when empty). */
  firstSeq: number;
  lastSeq: number;
}

/** Reads ADI_RAW's contract. Throws what JetStream throws (no such stream, timeout): callers retry. */
export async function rawStreamContract(nc: NatsConnection): Promise<RawStreamContract> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(RAW_STREAM);
  return {
    partitions: partitionsOfSubjects(info.config.subjects ?? []),
    maxAgeMs: Math.round((info.config.max_age ?? 0) / 1e6),
    firstSeq: info.state.first_seq,
    lastSeq: info.state.last_seq,
  };
}
