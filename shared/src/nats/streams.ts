// The durable streams every service meets through. Capture creates them (or updates their limits) at start;
// consumers only bind to them. Replicas > 1 needs a JetStream cluster with at least that many servers.
import { DiscardPolicy, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import type { StreamConfig } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { STREAMS } from "../wire/subjects.ts";

export interface StreamLimits {
  maxAgeMs: number;
  /** -1: unlimited */
  maxBytes: number;
  replicas: number;
}

/** Publish retries reuse their message id; the server drops repeats seen within this window. */
export const DUPLICATE_WINDOW_MS = 120_000;

export function streamConfigs(limits: StreamLimits): (Partial<StreamConfig> & { name: string })[] {
  return Object.values(STREAMS).map((s) => ({
    name: s.name,
    subjects: [...s.subjects],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: limits.maxAgeMs > 0 ? nanos(limits.maxAgeMs) : 0,
    max_bytes: limits.maxBytes,
    num_replicas: limits.replicas,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
  }));
}

/** A cluster still forming (peers joining, no leader yet) answers these; they pass. */
const TRANSIENT = /no suitable peers|insufficient resources|timeout|no responders|leader/i;

/**
 * Creates the streams, or brings an existing stream's limits to the configured ones. Retries for up to
 * `waitMs` while a JetStream cluster is still forming.
 */
export async function ensureStreams(nc: NatsConnection, limits: StreamLimits, waitMs = 30_000): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (let delay = 250; ; delay = Math.min(delay * 2, 2000)) {
    try {
      return await ensureStreamsOnce(nc, limits);
    } catch (err) {
      if (!TRANSIENT.test((err as Error).message) || Date.now() + delay > deadline) throw err;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

async function ensureStreamsOnce(nc: NatsConnection, limits: StreamLimits): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (const cfg of streamConfigs(limits)) {
    const name = cfg.name;
    const existing = await jsm.streams.info(name).catch(() => null);
    if (!existing) {
      await jsm.streams.add(cfg);
      continue;
    }
    const { name: _n, storage: _s, retention: _r, ...updatable } = cfg;
    const c = existing.config;
    if (
      c.max_age !== updatable.max_age ||
      c.max_bytes !== updatable.max_bytes ||
      c.num_replicas !== updatable.num_replicas ||
      c.duplicate_window !== updatable.duplicate_window ||
      // A new wire version (adi.derived.v1 -> v2) moves a stream created by an older release onto its subjects.
      (c.subjects ?? []).join(" ") !== (updatable.subjects ?? []).join(" ")
    ) {
      await jsm.streams.update(name, { ...c, ...updatable });
    }
  }
}
