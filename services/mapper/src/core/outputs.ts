// Everything the mapper writes, as a pure fold over facts and derived observations: the same events, in any
// order, render the same bytes. The live mapper and `adi replay` both use it, which is why a replay
// rebuilds exactly what the live pipeline wrote.
import { observationId } from "@adi/shared/wire/derived";
import type { ConnectionObservation, Derived, HttpExchange } from "@adi/shared/wire/derived";
import type { Fact } from "@adi/shared/wire/facts";
import { connectionLogLine, httpLogLines } from "./log-lines.ts";
import { ServiceMapBuilder, toYaml } from "./service-map.ts";

export interface MapperOutputOptions {
  /** Redact credentials in logged headers (ENV_REDACT). */
  redact: boolean;
}

export class MapperOutputs {
  readonly #builder = new ServiceMapBuilder();
  readonly #observations = new Map<string, Derived>();
  readonly #containers = new Map<string, { service: string | null; image: string | null }>();
  readonly #opts: MapperOutputOptions;
  #version = 0;

  constructor(opts: MapperOutputOptions) {
    this.#opts = opts;
  }

  /** Bumped on every change: writers re-render only when it moved. */
  get version(): number {
    return this.#version;
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
    if (this.#observations.has(key)) return;
    this.#observations.set(key, d);
    if (d.type === "http_exchange") this.#builder.addExchange(d);
    else this.#builder.addConnection(d);
    this.#version++;
  }

  /** OUTPUT_PATH: the Go tool's JSON lines, sorted by capture time (then content) for determinism. */
  renderLog(): string {
    return [...this.logLines()].join("");
  }

  /** The same lines one by one, for writing a log too large to hold as one string. */
  *logLines(): Generator<string> {
    const names = this.#builder.names;
    const lines: { ts: string; json: string }[] = [];
    for (const d of this.#observations.values()) {
      if (d.type === "http_exchange") {
        for (const line of httpLogLines(d as HttpExchange, names, { redact: this.#opts.redact })) lines.push({ ts: line.timestamp, json: JSON.stringify(line) });
      } else if (d.category !== "unknown" && d.category !== "web") {
        const line = connectionLogLine(d as ConnectionObservation, names);
        lines.push({ ts: line.timestamp, json: JSON.stringify(line) });
      }
    }
    lines.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.json < b.json ? -1 : a.json > b.json ? 1 : 0));
    for (const l of lines) yield `${l.json}\n`;
  }

  /** SERVICE_MAP_PATH: the Go tool's YAML service map. */
  renderMap(): string {
    return toYaml(this.#builder.build());
  }
}
