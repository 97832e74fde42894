// `adi diff`: what changed between two windows of the stream (--a-since/--a-until and --b-since/--b-until: each
// side folded in memory as `adi replay` reads the streams) or two saved service maps (`adi diff A.yaml B.yaml`):
// edges, endpoints and body fields added, removed or retyped (services/mapper/src/core/map-diff.ts), one line each
// and a summary, or JSON with --json. This file is the command: its sides, where each map comes from, the output.
//
// Exit status as diff(1)'s: 0 no change, 1 changes, more for trouble, each the registry's code (ADI_ERR_CONFIG, 2:
// a usage error or a saved map that cannot be read; 5: the broker). An unexpected error (a bug) is 1 too, as every
// adi command's: its `adi: ...` line on stderr and no summary on stdout tell it apart.
import { readFileSync, statSync } from "node:fs";
import { adiError, isAdiError } from "@adi/shared";
import { diffMaps, diffSummary, formatChange, parseSavedMap, SavedMapError } from "@adi/mapper";
import type { DiffableMap, MapChange } from "@adi/mapper";
import { openRuntime } from "../runtime.ts";
import { foldStreams } from "../replay/replay.ts";
import { parseTime, replayError } from "./replay.ts";

export interface DiffOptions {
  aSince?: string;
  aUntil?: string;
  bSince?: string;
  bUntil?: string;
  json?: boolean;
}

/** One side of the diff: a saved map, or a window of the stream (events stored at or after since, up to until). */
export type DiffSide = { file: string } | { since: Date | null; until: Date | null };

/** diff(1)'s statuses for a diff that ran. Trouble exits with the registry's code (die, shared/src/errors.ts). */
export const DIFF_EXIT = { same: 0, different: 1 } as const;

/** The window flags of each side, as commander names them. */
const WINDOW_FLAGS = [
  { side: "A", since: ["--a-since", "aSince"], until: ["--a-until", "aUntil"] },
  { side: "B", since: ["--b-since", "bSince"], until: ["--b-until", "bUntil"] },
] as const;

const USAGE = "give two saved maps (adi diff A.yaml B.yaml) or a window for each side (--a-since/--a-until and --b-since/--b-until)";

/**
 * The two sides the arguments name: two files, or two windows with at least one bound each. Throws AdiError
 * ADI_ERR_CONFIG (exit 2) for anything else: files and window flags together, one file, a side without a window,
 * a time that is not ISO 8601, a window ending before it starts. Checked before any broker is reached.
 */
export function diffSides(a: string | undefined, b: string | undefined, o: DiffOptions): [DiffSide, DiffSide] {
  const files = [a, b].filter((f): f is string => f !== undefined);
  const flags = WINDOW_FLAGS.flatMap((w) => [w.since, w.until]).filter(([, key]) => o[key] !== undefined).map(([flag]) => flag);
  if (files.length > 0 && flags.length > 0) throw usage(`saved maps and ${flags.join(", ")} given together: ${USAGE}, not both`);
  if (files.length === 1) throw usage(`one saved map given: ${USAGE}`);
  if (files.length === 2) return [{ file: files[0] as string }, { file: files[1] as string }];
  if (flags.length === 0) throw usage(`nothing to compare: ${USAGE}`);
  const [sideA, sideB] = WINDOW_FLAGS.map(({ side, since, until }) => {
    if (o[since[1]] === undefined && o[until[1]] === undefined) throw usage(`side ${side} has no window: give ${since[0]} and/or ${until[0]}`);
    const from = parseTime(since[0], o[since[1]]) ?? null;
    const to = parseTime(until[0], o[until[1]]) ?? null;
    if (from !== null && to !== null && from > to) throw usage(`${since[0]} ${from.toISOString()} is after ${until[0]} ${to.toISOString()}`);
    return { since: from, until: to };
  }) as [DiffSide, DiffSide];
  return [sideA, sideB];
}

/** `adi diff [A B] [--a-since T] [--a-until T] [--b-since T] [--b-until T] [--json]`. */
export async function runDiff(a: string | undefined, b: string | undefined, o: DiffOptions): Promise<void> {
  const sides = diffSides(a, b, o);
  const [mapA, mapB] = areFiles(sides) ? [readSavedMap(sides[0].file), readSavedMap(sides[1].file)] : await foldWindows(sides as readonly Window[]);
  const changes = diffMaps(mapA as DiffableMap, mapB as DiffableMap);
  await writeOut(o.json ? `${JSON.stringify(jsonReport(sides, changes), null, 2)}\n` : textReport(sides, changes));
  // main.ts exits 0 once a command returns: a diff that found changes says so by its status, as diff(1) does.
  if (changes.length > 0) process.exit(DIFF_EXIT.different);
}

/** The text form: `--- A: ...` and `+++ B: ...`, a line per change (formatChange), the summary. */
export function textReport(sides: readonly [DiffSide, DiffSide], changes: readonly MapChange[]): string {
  const lines = [`--- A: ${describe(sides[0])}`, `+++ B: ${describe(sides[1])}`, ...changes.map(formatChange), diffSummary(changes)];
  return `${lines.join("\n")}\n`;
}

/** The JSON form: { a: {file} | {since, until}, b: ..., changes: MapChange[] } (times ISO 8601, null when unbounded). */
export function jsonReport(sides: readonly [DiffSide, DiffSide], changes: readonly MapChange[]): { a: unknown; b: unknown; changes: readonly MapChange[] } {
  const side = (s: DiffSide) => ("file" in s ? { file: s.file } : { since: s.since?.toISOString() ?? null, until: s.until?.toISOString() ?? null });
  return { a: side(sides[0]), b: side(sides[1]), changes };
}

function describe(side: DiffSide): string {
  if ("file" in side) return side.file;
  return `stream stored from ${side.since?.toISOString() ?? "the start"} to ${side.until?.toISOString() ?? "the end"}`;
}

function usage(detail: string) {
  return adiError("ADI_ERR_CONFIG", `adi diff: ${detail}`);
}

/** A saved map, read: AdiError ADI_ERR_CONFIG naming the file (and the bad place in it) when it is not one. */
function readSavedMap(file: string): DiffableMap {
  let text: string;
  try {
    // A FIFO or a device (/dev/zero) would block or never end: only a regular file is read.
    if (!statSync(file).isFile()) throw adiError("ADI_ERR_CONFIG", `${file}: not a regular file: expected a saved service map (YAML)`);
    text = readFileSync(file, "utf8");
  } catch (err) {
    if (isAdiError(err)) throw err;
    throw adiError("ADI_ERR_CONFIG", `${file}: cannot be read: ${(err as Error).message}`, err);
  }
  try {
    return parseSavedMap(text, file);
  } catch (err) {
    if (err instanceof SavedMapError) throw adiError("ADI_ERR_CONFIG", err.message, err);
    throw err;
  }
}

type Window = { since: Date | null; until: Date | null };

/** diffSides gives two files or two windows, never one of each. */
function areFiles(sides: readonly [DiffSide, DiffSide]): sides is readonly [{ file: string }, { file: string }] {
  return "file" in sides[0];
}

/** Each window folded from the streams in turn (only its map is kept), through one connection. */
async function foldWindows(windows: readonly Window[]): Promise<DiffableMap[]> {
  const rt = await openRuntime("diff", undefined, { attach: true, logToStderr: true });
  let reading: string | null = null;
  try {
    const maps: DiffableMap[] = [];
    for (const w of windows) {
      const { fold } = await foldStreams(rt.nc, rt.cfg, { since: w.since ?? undefined, until: w.until ?? undefined, log: rt.log, onStream: (s) => (reading = s) });
      maps.push(fold.serviceMap());
    }
    return maps;
  } catch (err) {
    throw replayError(err, "-", reading, "diff");
  } finally {
    await rt.close();
  }
}

/** Resolves once `text` is handed to stdout, so the exit that follows cannot cut it. */
function writeOut(text: string): Promise<void> {
  return new Promise((resolve) => process.stdout.write(text, () => resolve()));
}
