// ENV_OUTPUT_PATH: the Go tool's multi-document YAML, one document per opted-in process, folded from the
// process facts (so a replay rebuilds it). The environment in the facts is already filtered by
// ENV_PREFIX_LIST and redacted by the capture agent: nothing secret reaches this file that was not published.
import { Document } from "yaml";
import type { ProcessFact } from "@adi/shared/wire/facts";

interface Entry {
  fact: ProcessFact;
  /** First time this process was seen: the documents' order. */
  firstTs: string;
}

const RANK = { scan: 0, fork: 1, exec: 2, exit: 3 } as const;

export class EnvInventory {
  readonly #processes = new Map<string, Entry>();
  #version = 0;

  get version(): number {
    return this.#version;
  }

  /** Keeps, per process identity, the latest fact that describes it (an exec replaces the environment). */
  add(fact: ProcessFact): void {
    if (fact.optin !== "yes" || fact.event === "exit") return;
    const key = `${fact.host}|${fact.boot_id}|${fact.pid}|${fact.start_ticks}`;
    const known = this.#processes.get(key);
    if (known) {
      const k = known.fact;
      const newer = fact.ts > k.ts || (fact.ts === k.ts && RANK[fact.event] > RANK[k.event]);
      // A fact read from /proc beats one that only carries an error, whatever their order.
      const better = (fact.error === null && k.error !== null) || (newer && !(fact.error !== null && k.error === null));
      if (!better) return;
      this.#processes.set(key, { fact, firstTs: fact.ts < known.firstTs ? fact.ts : known.firstTs });
    } else {
      this.#processes.set(key, { fact, firstTs: fact.ts });
    }
    this.#version++;
  }

  render(): string {
    const entries = [...this.#processes.values()].sort(
      (a, b) => (a.firstTs < b.firstTs ? -1 : a.firstTs > b.firstTs ? 1 : a.fact.pid - b.fact.pid),
    );
    return entries.map((e) => `---\n${document(e.fact)}`).join("");
  }
}

function document(f: ProcessFact): string {
  const doc: Record<string, unknown> = {
    adi_profile_pid: f.pid,
    adi_profile_match: f.adi_profile_match ?? "",
  };
  if (f.adi_profile_name) doc.adi_profile_name = f.adi_profile_name;
  doc.adi_profile_cmdline = f.cmdline;
  doc.adi_profile_env = Object.fromEntries(Object.entries(f.env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  if (f.error !== null) doc.error = f.error;
  // Strings double-quoted as in the Go tool's output; the library escapes quotes, newlines and the rest.
  return new Document(doc).toString({ defaultStringType: "QUOTE_DOUBLE", defaultKeyType: "PLAIN", lineWidth: 0 });
}
