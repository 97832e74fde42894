// Everything the mapper writes, as a fold over facts and derived observations. The live mapper and `adi replay`
// both use it, which is why a replay rebuilds what the live pipeline wrote.
//
// The service map does not depend on arrival order. The traffic log is append-only and sorted by capture time:
// a line becomes final once the newest capture time seen has moved `logSettleMs` past it (or the stream goes
// quiet), and is then rendered (names as known then), sorted with the others final at that moment, handed out
// and forgotten. So arrival order matters only for lines later than that window (a request slower than the
// window, a classifier lagging more than it): they are appended where they arrive and counted as `late`.
// Memory holds a window of traffic, not the run.
//
// What a restarted mapper (re-reading facts, then the derived stream from its start) could do differently from
// replay, and how it does not: observations stored twice (a classifier republishing after the stream's duplicate
// window) are dropped by connection whenever they come (seen.ts), not only within the log window; the two views of
// a call come from different partitions, one of which may lag while a classifier restarts: they wait 60 s of
// capture time for each other (DEFAULT_PAIRING_WINDOW_MS; later ones are counted `unpaired_late`); routes fold as a
// function of the set of calls (routes.ts); quiet flushes and chunking change only where a late line is appended.
// convergence.unit.spec.ts feeds both patterns.
import { RedactionPolicy } from "@adi/shared/redaction";
import { observationId } from "@adi/shared/wire";
import type { ConnectionObservation, Derived, HttpExchange, Fact } from "@adi/shared/wire";
import { connectionLogLine, httpLogLines } from "./log-lines.ts";
import { isoToMs, maxIso } from "./observation.ts";
import { SeenObservations } from "./seen.ts";
import { DEFAULT_PAIRING_WINDOW_MS, ServiceMapBuilder, toYaml } from "./service-map.ts";
import type { ServiceMap } from "./service-map.ts";

export interface MapperOutputOptions {
  /**
   * Applied to every exchange taken (headers, target, bodies, raw: the log and the map see it redacted) and to
   * process facts' cmdline (the log's `cmdline`): defense in depth for streams written by older versions, whose
   * classifier and agent did not redact. RedactionPolicy.fromConfig.
   */
  redaction: RedactionPolicy;
  /**
   * Capture time behind the newest observation after which an observation's log lines are final: rendered,
   * handed to the writer and forgotten. Default 1000. Memory holds about this much traffic, not the whole run.
   */
  logSettleMs?: number;
  /**
   * Capture time after which a call seen by one end only is counted alone (its other end's view, from another
   * partition, may come late: a classifier restarting catches up). Default 60 s (ServiceMapBuilder).
   */
  pairingWindowMs?: number;
  /** Capture time a connection is remembered after its last observation, to drop redeliveries (seen.ts). Default 10 min. */
  seenIdleMs?: number;
  /** Capture times a fact or observation may carry (TimeWindow): what lies outside is dropped and counted. */
  timeWindow?: Partial<TimeWindow>;
}

/**
 * Sane capture times (issue 10, item 8: one record stamped 2^64-1 ns set generated_at to the year 2554). Always:
 * from `floorMs` (a boot-relative clock prints dates near 1970) to `ceilingMs`. When the message's store time is
 * known (the JetStream timestamp): at most `aheadMs` after it and at most `behindMs` before it (a classifier may
 * publish observations of a backlog long after their capture, never a year after).
 */
export interface TimeWindow {
  floorMs: number;
  ceilingMs: number;
  aheadMs: number;
  behindMs: number;
}

export const DEFAULT_TIME_WINDOW: TimeWindow = {
  floorMs: Date.UTC(2000, 0, 1),
  ceilingMs: Date.UTC(2200, 0, 1),
  aheadMs: 24 * 3600_000,
  behindMs: 366 * 24 * 3600_000,
};

interface PendingObservation {
  /** Until its first line is final; then its rendered lines not final yet. */
  observation: Derived | null;
  lines: RenderedLine[];
  /** Capture time of its earliest line not final yet, ms. */
  oldestMs: number;
}

interface RenderedLine {
  ts: string;
  ms: number;
  json: string;
}

export const DEFAULT_LOG_SETTLE_MS = 1000;

export { DEFAULT_PAIRING_WINDOW_MS };

export class MapperOutputs {
  readonly #builder: ServiceMapBuilder;
  /** Observations whose log lines are not final yet, by observation id. */
  readonly #pending = new Map<string, PendingObservation>();
  /** What was taken, by connection: a redelivery is ignored whenever it comes (within the idle window). */
  readonly #seen: SeenObservations;
  /** Final lines not taken by the writer yet, in order. */
  #ready: string[] = [];
  #readyChars = 0;
  #newestMs = -Infinity;
  #settledUpToMs = -Infinity;
  readonly #containers = new Map<string, { service: string | null; image: string | null }>();
  readonly #opts: MapperOutputOptions;
  readonly #settleMs: number;
  readonly #stats = { observations: 0, duplicates: 0, late: 0, final: 0, bad_time: 0 };
  readonly #window: TimeWindow;
  #version = 0;
  /** The last map built, for its version (serviceMap). */
  #built: { version: number; map: ServiceMap } | null = null;

  constructor(opts: MapperOutputOptions) {
    this.#opts = opts;
    this.#settleMs = opts.logSettleMs ?? DEFAULT_LOG_SETTLE_MS;
    this.#window = { ...DEFAULT_TIME_WINDOW, ...opts.timeWindow };
    this.#builder = new ServiceMapBuilder({ settleAfterMs: opts.pairingWindowMs ?? DEFAULT_PAIRING_WINDOW_MS });
    this.#seen = new SeenObservations(opts.seenIdleMs);
  }

  /** Bumped on every change: writers re-render only when it moved. */
  get version(): number {
    return this.#version;
  }

  /**
   * Observations taken, duplicates ignored, late ones (arrived after their time was final: logged out of order),
   * final ones, pending ones, facts or observations dropped for a capture time outside the window (bad_time),
   * and views that came after the pairing window had closed on their call (unpaired_late: such a call may be
   * counted twice; a live mapper then differs from replay, and this says so).
   */
  stats(): { observations: number; duplicates: number; late: number; final: number; bad_time: number; pending: number; unpaired_late: number } {
    return { ...this.#stats, pending: this.#pending.size, unpaired_late: this.#builder.lateViews() };
  }

  /**
   * Takes a fact. `storedAtMs`: the message's store time (JetStream timestamp, ms), when known: a fact whose
   * capture time is outside the window around it (TimeWindow) is dropped and counted, not learned.
   */
  addFact(fact: Fact, storedAtMs?: number): void {
    if (!this.#saneTimes([fact.ts], storedAtMs)) return;
    if (fact.type === "process") this.#builder.addProcess({ ...fact, cmdline: this.#opts.redaction.cmdline(fact.cmdline) });
    else if (fact.type === "listeners") this.#builder.addListeners(fact);
    else if (fact.type === "container") {
      // Identities only grow: a container that died still names the calls it made while it ran.
      if (fact.event === "destroy") return;
      // The same container can be reported twice (Docker, and containerd's moby namespace without labels):
      // what one report knows is not forgotten by a poorer one.
      const known = this.#containers.get(fact.container_id);
      const service = fact.service ?? known?.service ?? null;
      const image = fact.image ?? known?.image ?? null;
      this.#containers.set(fact.container_id, { service, image });
      this.#builder.names.addIdentity({
        container_id: fact.container_id,
        service: service ?? fact.container_name,
        image,
        container_name: fact.container_name,
        ips: fact.ips,
        host: fact.host,
        published_ports: fact.ports.filter((p) => p.host_port !== null).map((p) => ({ host_ip: p.host_ip, host_port: p.host_port! })),
        gateways: fact.gateways ?? [],
      });
    } else return;
    this.#version++;
  }

  /**
   * Takes an observation (a redelivery of one already taken is ignored). `storedAtMs` as for addFact: an
   * observation with any capture time outside the window is dropped and counted, so it moves neither
   * `generated_at`, nor the log's settling, nor the map. `redactedBy`: the RedactionPolicy id the producer
   * redacted with (derived v3 batches carry it): when it is this fold's policy, the exchange is not redacted again.
   */
  addDerived(given: Derived, storedAtMs?: number, redactedBy?: string): void {
    if (!this.#saneTimes(captureTimes(given), storedAtMs)) return;
    // Redacted by a policy like ours (same id): redacting again would change nothing.
    const d = given.type === "http_exchange" && redactedBy !== this.#opts.redaction.id ? this.#opts.redaction.exchange(given) : given;
    const key = observationId(d);
    if (this.#pending.has(key) || !this.#seen.take(d)) {
      this.#stats.duplicates++;
      return;
    }
    const oldestMs = isoToMs(oldestTs(d));
    const newestMs = isoToMs(newestTs(d));
    if (oldestMs < this.#settledUpToMs) this.#stats.late++;
    this.#pending.set(key, { observation: d, lines: [], oldestMs });
    this.#stats.observations++;
    if (d.type === "http_exchange") this.#builder.addExchange(d);
    else this.#builder.addConnection(d);
    this.#version++;
    if (newestMs > this.#newestMs) this.#newestMs = newestMs;
    // Scanning the pending set costs: settle when capture time moved on by a tenth of the window.
    const horizon = this.#newestMs - this.#settleMs;
    if (horizon - this.#settledUpToMs >= this.#settleMs / 10) this.#settle(horizon);
  }

  /**
   * Takes the log lines that are final, in order, for appending to OUTPUT_PATH. `all`: everything pending is made
   * final first (the stream went quiet, or the mapper stops).
   */
  takeLogLines(all = false): string[] {
    if (all) this.#settle(Infinity);
    const lines = this.#ready;
    this.#ready = [];
    this.#readyChars = 0;
    return lines;
  }

  /**
   * Characters of the final log lines not taken yet. The writer takes them when its timer fires (2 s quiet, at
   * most every 10 s); at 10,000 exchanges/s ten seconds of lines with their bodies were a gigabyte, so the live
   * mapper drains the log once this passes LOG_DRAIN_CHARS.
   */
  readyChars(): number {
    return this.#readyChars;
  }

  /** OUTPUT_PATH as it would read now if nothing had been taken: final lines not taken, then pending ones. */
  renderLog(): string {
    return [...this.logLines()].join("");
  }

  /** The same, line by line. Does not change what is pending. */
  *logLines(): Generator<string> {
    yield* this.#ready;
    const lines: RenderedLine[] = [];
    for (const p of this.#pending.values()) lines.push(...(p.observation ? this.#render(p.observation) : p.lines));
    for (const line of lines.sort(byTimeThenContent)) yield `${line.json}\n`;
  }

  /** SERVICE_MAP_PATH: the Go tool's YAML service map. */
  renderMap(): string {
    return toYaml(this.serviceMap());
  }

  /**
   * The service map as data, RED figures included (EndpointEntry.stats): what the file, the view, the exports, the
   * metrics and `adi diff` read. Built once per `version` and shared by every reader (read-only: do not mutate it):
   * under `adi up` the file writer, the view's page and a Prometheus scrape each asked for their own build.
   */
  serviceMap(): ServiceMap {
    if (this.#built?.version !== this.#version) this.#built = { version: this.#version, map: this.#builder.build() };
    return this.#built.map;
  }

  #saneTimes(times: readonly string[], storedAtMs: number | undefined): boolean {
    const w = this.#window;
    for (const ts of times) {
      const ms = isoToMs(ts);
      const sane =
        ms >= w.floorMs &&
        ms < w.ceilingMs &&
        (storedAtMs === undefined || (ms <= storedAtMs + w.aheadMs && ms >= storedAtMs - w.behindMs));
      if (!sane) {
        this.#stats.bad_time++;
        return false;
      }
    }
    return true;
  }

  #settle(horizon: number): void {
    const final: RenderedLine[] = [];
    for (const [key, p] of this.#pending) {
      if (p.oldestMs >= horizon) continue;
      if (p.observation) {
        p.lines = this.#render(p.observation);
        p.observation = null;
      }
      const keep: RenderedLine[] = [];
      for (const line of p.lines) (line.ms < horizon ? final : keep).push(line);
      if (keep.length > 0) {
        p.lines = keep;
        p.oldestMs = Math.min(...keep.map((l) => l.ms));
        continue;
      }
      this.#pending.delete(key);
      this.#stats.final++;
    }
    if (horizon !== Infinity) this.#settledUpToMs = horizon;
    else if (this.#newestMs > this.#settledUpToMs) this.#settledUpToMs = this.#newestMs;
    for (const line of final.sort(byTimeThenContent)) {
      this.#ready.push(`${line.json}\n`);
      this.#readyChars += line.json.length + 1;
    }
  }

  /**
   * An observation's log lines: two for an exchange with a response; one for a connection of a category the
   * log lists (LOGGED_CATEGORIES: unknown ones too, with their first bytes, so nothing disappears silently).
   */
  #render(d: Derived): RenderedLine[] {
    const names = this.#builder.names;
    const lines: RenderedLine[] = [];
    if (d.type === "http_exchange") {
      // Redacted once already, when addDerived took it.
      for (const line of httpLogLines(d as HttpExchange, names, { redaction: RedactionPolicy.NONE })) lines.push(rendered(line.timestamp, line));
    } else if (LOGGED_CATEGORIES.has(d.category)) {
      const line = connectionLogLine(d as ConnectionObservation, names);
      lines.push(rendered(line.timestamp, line));
    }
    return lines;
  }
}

/**
 * Connection categories with a line in the log: the Go tool's (databases, caches, message buses) and the
 * connections no rule recognised (protocol unknown, confidence 0: issue 10, item 1). Web connections are not:
 * their HTTP exchanges are logged (TLS ones are in the map when asked for).
 */
const LOGGED_CATEGORIES: ReadonlySet<string> = new Set(["database", "cache", "message_bus", "unknown"]);

/** Every capture time an observation carries. */
function captureTimes(d: Derived): string[] {
  if (d.type === "connection") return [d.ts];
  const { request, response } = d;
  return response ? [request.ts, request.end_ts, response.ts, response.end_ts] : [request.ts, request.end_ts];
}

function rendered(ts: string, line: object): RenderedLine {
  return { ts, ms: isoToMs(ts), json: JSON.stringify(line) };
}

/** Capture time, then content: deterministic whatever the arrival order. Timestamps have one width: text order is time order. */
function byTimeThenContent(a: RenderedLine, b: RenderedLine): number {
  return a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.json < b.json ? -1 : a.json > b.json ? 1 : 0;
}

/** Capture time of an observation's first log line. */
function oldestTs(d: Derived): string {
  return d.type === "connection" ? d.ts : d.request.ts;
}

/** Capture time of an observation's last log line. */
function newestTs(d: Derived): string {
  if (d.type === "connection") return d.ts;
  return d.response ? maxIso(d.request.ts, d.response.ts)! : d.request.ts;
}
