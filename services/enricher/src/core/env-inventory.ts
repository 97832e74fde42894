// ENV_OUTPUT_PATH: the Go tool's multi-document YAML, folded from the process facts (so a replay rebuilds it).
// The Go tool "collects environment variables from each process making network calls" (its README): one
// document per process identity (host, boot id, pid, start ticks) that has a `net` fact, the capture agent's
// mark of its first connection. ENV_OUTPUT_ALL=true lists every opted-in process instead (scan, exec, fork).
// The environment in the facts is filtered by ENV_PREFIX_LIST and redacted by the capture agent; the env and
// cmdline rules run again here (the policy's env and cmdline categories), for facts published by older agents
// that redacted by name only, or not at all.
import { Document } from "yaml";
import { RedactionPolicy } from "@adi/shared/redaction";
import { PROCESS_LIFECYCLE_RANK, processIdentityKey } from "@adi/shared/wire";
import type { ProcessFact } from "@adi/shared/wire";

export interface EnvInventoryOptions {
  /** ENV_OUTPUT_ALL: a document for every opted-in process, networked or not. Default false. */
  readonly all?: boolean;
  /** Applied to each fact's env and cmdline when taken (RedactionPolicy.fromConfig). Default: everything redacted. */
  readonly redaction?: RedactionPolicy;
}

interface Entry {
  /** The fact that describes the process (see `better`): a maximum, so the fold does not depend on order. */
  best: Ranked;
  /** The best facts that carry ADI_PROFILE / ADI_PROFILE_NAME, for a `best` that does not. */
  bestWithMatch: Ranked | null;
  bestWithName: Ranked | null;
  /** A `net` fact was seen: the process made a network call. */
  net: boolean;
  /** The earliest `ts` of its facts: the documents' order. */
  firstTs: string;
}

/** A fact and its serialisation (the last tie-breaker). */
interface Ranked {
  readonly fact: ProcessFact;
  readonly key: string;
}


/**
 * Which of two facts of one process describes it in its document; the order is total, so the choice does not
 * depend on the order the facts arrive in. In turn: a fact read from /proc (no error) beats one that only
 * carries what the kernel saw; a `net` fact (the process as it was when it made its call) beats the others;
 * then the later (ts, then life stage); then the serialised fact (any total order will do for exact ties).
 */
function better({ fact: a, key: aKey }: Ranked, { fact: b, key: bKey }: Ranked): boolean {
  if ((a.error === null) !== (b.error === null)) return a.error === null;
  if ((a.event === "net") !== (b.event === "net")) return a.event === "net";
  if (a.ts !== b.ts) return a.ts > b.ts;
  if (PROCESS_LIFECYCLE_RANK[a.event] !== PROCESS_LIFECYCLE_RANK[b.event]) return PROCESS_LIFECYCLE_RANK[a.event] > PROCESS_LIFECYCLE_RANK[b.event];
  return aKey > bKey;
}

/** The better of a kept maximum and a candidate (null: none kept yet). */
function max(kept: Ranked | null, candidate: Ranked): Ranked {
  return kept === null || better(candidate, kept) ? candidate : kept;
}

export class EnvInventory {
  readonly #all: boolean;
  readonly #redaction: RedactionPolicy;
  readonly #processes = new Map<string, Entry>();
  #version = 0;

  constructor(options: EnvInventoryOptions = {}) {
    this.#all = options.all ?? false;
    this.#redaction = options.redaction ?? RedactionPolicy.DEFAULT;
  }

  /** Bumped whenever a fact could change the rendering: writers re-render only when it moved. */
  get version(): number {
    return this.#version;
  }

  /**
   * Takes one process fact. Facts of processes that did not opt in, and exits (they carry no environment), are
   * ignored; a fact already taken (a redelivery) changes nothing. Any order of the same facts renders the same.
   * Memory: up to three facts per opted-in process identity (usually one), networked or not, since a process's
   * `net` fact may arrive before or after the facts that describe it.
   */
  add(given: ProcessFact): void {
    if (given.optin !== "yes" || given.event === "exit") return;
    const fact: ProcessFact = { ...given, env: this.#redaction.env(given.env), cmdline: this.#redaction.cmdline(given.cmdline) };
    const id = processIdentityKey(fact);
    const ranked: Ranked = { fact, key: JSON.stringify(fact) };
    const withMatch = fact.adi_profile_match !== null ? ranked : null;
    const withName = fact.adi_profile_name !== null ? ranked : null;
    const entry = this.#processes.get(id);
    if (!entry) {
      this.#processes.set(id, { best: ranked, bestWithMatch: withMatch, bestWithName: withName, net: fact.event === "net", firstTs: fact.ts });
      this.#version++;
      return;
    }
    const before = [entry.best, entry.bestWithMatch, entry.bestWithName, entry.net, entry.firstTs];
    entry.best = max(entry.best, ranked);
    if (withMatch) entry.bestWithMatch = max(entry.bestWithMatch, withMatch);
    if (withName) entry.bestWithName = max(entry.bestWithName, withName);
    if (fact.event === "net") entry.net = true;
    if (fact.ts < entry.firstTs) entry.firstTs = fact.ts;
    const after = [entry.best, entry.bestWithMatch, entry.bestWithName, entry.net, entry.firstTs];
    if (after.some((v, i) => v !== before[i])) this.#version++;
  }

  /** The multi-document YAML (`---` before each document), in order of first sighting, then pid. */
  render(): string {
    return this.processes().map((fact) => `---\n${document(fact)}`).join("");
  }

  /**
   * The processes the YAML lists, in its order, as the facts that describe them (environment filtered and
   * redacted): the view's drill-down reads these, so it shows what ENV_OUTPUT_PATH shows.
   */
  processes(): ProcessFact[] {
    return [...this.#processes.values()]
      .filter((e) => this.#all || e.net)
      .map((e) => ({ firstTs: e.firstTs, fact: describe(e) }))
      .sort((a, b) => (a.firstTs < b.firstTs ? -1 : a.firstTs > b.firstTs ? 1 : a.fact.pid - b.fact.pid))
      .map((e) => e.fact);
  }
}

/**
 * The fact a process's document is made of: the best one (see `better`), with ADI_PROFILE / ADI_PROFILE_NAME
 * taken from the best other fact that has them when it has none (a fact whose /proc read failed after the
 * process exited carries the kernel's exec-time verdict; an older agent's did not).
 */
function describe(entry: Entry): ProcessFact {
  const best = entry.best.fact;
  return {
    ...best,
    adi_profile_match: best.adi_profile_match ?? entry.bestWithMatch?.fact.adi_profile_match ?? null,
    adi_profile_name: best.adi_profile_name ?? entry.bestWithName?.fact.adi_profile_name ?? null,
  };
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
