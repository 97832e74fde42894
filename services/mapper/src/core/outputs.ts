// Everything the mapper writes, as a fold over facts and derived observations. The live mapper and `adi replay`
// both use it, which is why a replay rebuilds what the live pipeline wrote.
//
// The service map does not depend on arrival order. The traffic log is append-only and sorted by capture time:
// a line becomes final once the newest capture time seen has moved `logSettleMs` past it (or the stream goes
// quiet), and is then rendered (names as known then), sorted with the others final at that moment, handed out
// and forgotten. So arrival order matters only for lines later than that window (a request slower than the
// window, a classifier lagging more than it): they are appended where they arrive and counted as `late`.
// Memory holds a window of traffic, not the run.
import { observationId } from "@adi/shared/wire/derived";
import type { ConnectionObservation, Derived, HttpExchange } from "@adi/shared/wire/derived";
import type { Fact } from "@adi/shared/wire/facts";
import { connectionLogLine, httpLogLines } from "./log-lines.ts";
import { isoToMs, maxIso } from "./observation.ts";
import { ServiceMapBuilder, toYaml } from "./service-map.ts";

export interface MapperOutputOptions {
  /** Redact credentials in logged headers (ENV_REDACT). */
  redact: boolean;
  /**
   * Capture time behind the newest observation after which an observation's log lines are final: rendered,
   * handed to the writer and forgotten. Default 3000. Memory holds about this much traffic, not the whole run.
   */
  logSettleMs?: number;
}

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

export class MapperOutputs {
  readonly #builder = new ServiceMapBuilder();
  /** Observations whose log lines are not final yet, by observation id. */
  readonly #pending = new Map<string, PendingObservation>();
  /** Ids of observations already final: a redelivery is ignored. Two generations, rotated once per window. */
  #finalIds = new Set<string>();
  #olderFinalIds = new Set<string>();
  #rotatedAtMs = -Infinity;
  /** Final lines not taken by the writer yet, in order. */
  #ready: string[] = [];
  #newestMs = -Infinity;
  #settledUpToMs = -Infinity;
  readonly #containers = new Map<string, { service: string | null; image: string | null }>();
  readonly #opts: MapperOutputOptions;
  readonly #settleMs: number;
  readonly #stats = { observations: 0, duplicates: 0, late: 0, final: 0 };
  #version = 0;

  constructor(opts: MapperOutputOptions) {
    this.#opts = opts;
    this.#settleMs = opts.logSettleMs ?? DEFAULT_LOG_SETTLE_MS;
  }

  /** Bumped on every change: writers re-render only when it moved. */
  get version(): number {
    return this.#version;
  }

  /** Observations taken, duplicates ignored, late ones (arrived after their time was final: logged out of order), final ones, pending ones. */
  stats(): { observations: number; duplicates: number; late: number; final: number; pending: number } {
    return { ...this.#stats, pending: this.#pending.size };
  }
  addFact(fact: Fact): void {
    if (fact.type === "process") this.#builder.addProcess(fact);
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
      });
    } else return;
    this.#version++;
  }

  addDerived(d: Derived): void {
    const key = observationId(d);
    if (this.#pending.has(key) || this.#finalIds.has(key) || this.#olderFinalIds.has(key)) {
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
    return lines;
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
    return toYaml(this.#builder.build());
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
      this.#finalIds.add(key);
      this.#stats.final++;
    }
    if (horizon !== Infinity) this.#settledUpToMs = horizon;
    else if (this.#newestMs > this.#settledUpToMs) this.#settledUpToMs = this.#newestMs;
    for (const line of final.sort(byTimeThenContent)) this.#ready.push(`${line.json}\n`);
    // An id is remembered for at least one window after it became final: redeliveries come within seconds.
    if (this.#settledUpToMs - this.#rotatedAtMs > this.#settleMs) {
      this.#olderFinalIds = this.#finalIds;
      this.#finalIds = new Set();
      this.#rotatedAtMs = this.#settledUpToMs;
    }
  }

  /** An observation's log lines (two for an exchange with a response, none for a web or unknown connection). */
  #render(d: Derived): RenderedLine[] {
    const names = this.#builder.names;
    const lines: RenderedLine[] = [];
    if (d.type === "http_exchange") {
      for (const line of httpLogLines(d as HttpExchange, names, { redact: this.#opts.redact })) lines.push(rendered(line.timestamp, line));
    } else if (d.category !== "unknown" && d.category !== "web") {
      const line = connectionLogLine(d as ConnectionObservation, names);
      lines.push(rendered(line.timestamp, line));
    }
    return lines;
  }
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
