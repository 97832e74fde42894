// `adi replay --out DIR`: rebuilds every output (traffic log, service map, environment inventory) from the
// durable streams into DIR with fresh state, without touching the live outputs or the live consumers (ordered
// consumers leave no state on the server). This file is the command: its flags, DIR and the error lines; the
// replay itself (the services' public folds composed over the streams) is cli/replay/replay.ts.
import { mkdirSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import type { AdiConfig } from "@adi/shared";
import { checkOutputPath, adiError, isAdiError } from "@adi/shared";
import { isBrokerError, isStreamNotFound } from "@adi/shared/nats";
import { openRuntime } from "../runtime.ts";
import { replayStreams } from "../replay/replay.ts";

export interface ReplayOptions {
  out: string;
  since?: string;
  until?: string;
}

/** `--since`/`--until` (and `adi diff`'s, `adi export`'s): undefined when not given; AdiError ADI_ERR_CONFIG when not a time. */
export function parseTime(flag: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw adiError("ADI_ERR_CONFIG", `${flag} ${JSON.stringify(value)}: expected an ISO 8601 time, e.g. 2026-11-27T09:00:00Z`);
  return d;
}

/** The files replay writes into `out`, by the setting whose base name each takes. */
export interface ReplayFiles {
  log: string;
  map: string;
  env: string;
}

/** The service map's name in DIR when SERVICE_MAP_PATH is unset. */
export const DEFAULT_MAP_NAME = "ebpf_service_map.yaml";

/**
 * Where replay writes each output in `out`: the base name of OUTPUT_PATH, SERVICE_MAP_PATH (else
 * ebpf_service_map.yaml) and ENV_OUTPUT_PATH. Two settings with the same base name (/a/out.log and /b/out.log) would
 * write one file in DIR: refused, AdiError ADI_ERR_OUTPUT_PATH (exit 2), rather than renamed, so each rebuilt file
 * keeps its live file's name and can be compared with it.
 */
export function replayFiles(out: string, cfg: Pick<AdiConfig, "outputPath" | "serviceMapPath" | "envOutputPath">): ReplayFiles {
  const sources = [
    ["log", "OUTPUT_PATH", cfg.outputPath],
    ["map", "SERVICE_MAP_PATH", cfg.serviceMapPath ?? DEFAULT_MAP_NAME],
    ["env", "ENV_OUTPUT_PATH", cfg.envOutputPath],
  ] as const;
  const byName = new Map<string, [string, string]>();
  for (const [, variable, path] of sources) {
    const name = basename(path);
    const first = byName.get(name);
    if (first !== undefined) {
      throw adiError(
        "ADI_ERR_OUTPUT_PATH",
        `--out ${JSON.stringify(out)}: ${first[0]}=${JSON.stringify(first[1])} and ${variable}=${JSON.stringify(path)} have the same file name ${JSON.stringify(name)}, and replay names its files after them: give them different names`,
      );
    }
    byName.set(name, [variable, path]);
  }
  return { log: join(out, basename(sources[0][2])), map: join(out, basename(sources[1][2])), env: join(out, basename(sources[2][2])) };
}

/**
 * Makes `out` ready before any broker is started: a directory (created 0700 with its parents if missing; an existing
 * one may be reached through a symlink) in which each of `files` may be written (checkOutputPath). Throws AdiError
 * ADI_ERR_OUTPUT_PATH (exit 2) otherwise: `--out` naming a regular file, a component that is not a directory, no
 * permission.
 */
export function prepareReplayOut(out: string, files: ReplayFiles): void {
  let isDir = false;
  try {
    isDir = statSync(out).isDirectory();
    if (!isDir) throw adiError("ADI_ERR_OUTPUT_PATH", `--out ${JSON.stringify(out)}: is not a directory`);
  } catch (err) {
    if (isAdiError(err)) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOTDIR") throw adiError("ADI_ERR_OUTPUT_PATH", `--out ${JSON.stringify(out)}: a component of it is not a directory`);
    if (code !== "ENOENT") throw adiError("ADI_ERR_OUTPUT_PATH", `--out ${JSON.stringify(out)}: cannot be inspected: ${(err as Error).message}`);
  }
  if (!isDir) {
    try {
      mkdirSync(out, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw adiError("ADI_ERR_OUTPUT_PATH", `--out ${JSON.stringify(out)}: cannot be created: ${(err as Error).message}`);
    }
  }
  for (const path of Object.values(files)) checkOutputPath("--out file", path);
}

/** The file system calls replay makes in DIR (a socket's read or connect failing is the broker's, not DIR's). */
const FILE_SYSCALLS = new Set(["open", "write", "fsync", "fdatasync", "rename", "close", "mkdir", "unlink", "chmod", "fchmod", "lstat", "stat"]);

/**
 * What replay prints for an error met while it ran: each kind as the registry names it, so the line is always
 * `adi: <ADI_ERR_CODE>: <detail>` (an AdiError passes as is). `stream`: the stream being read, if any. A missing
 * stream is ADI_ERR_NO_STREAM; any other broker error while reading, ADI_ERR_NOT_FOLLOWING; a failed write in DIR
 * (ENOSPC, EACCES...), ADI_ERR_OUTPUT_PATH. Anything else (a bug) is returned as is: exit 1.
 */
export function replayError(err: unknown, out: string, stream: string | null, command = "replay"): unknown {
  if (isAdiError(err) || !(err instanceof Error)) return err;
  if (isStreamNotFound(err)) return adiError("ADI_ERR_NO_STREAM", `stream ${stream ?? "?"} does not exist on the broker: nothing to ${command === "replay" ? "replay" : "read"}`, err);
  const errno = err as NodeJS.ErrnoException;
  if (typeof errno.code === "string" && FILE_SYSCALLS.has(errno.syscall ?? "")) {
    return adiError("ADI_ERR_OUTPUT_PATH", `--out ${JSON.stringify(out)}: cannot be written: ${err.message}`, err);
  }
  if (stream !== null && isBrokerError(err)) return adiError("ADI_ERR_NOT_FOLLOWING", `${command} could not read stream ${stream}: ${err.message}`, err);
  return err;
}

export async function runReplay(opts: ReplayOptions): Promise<void> {
  const since = parseTime("--since", opts.since);
  const until = parseTime("--until", opts.until);
  let files: ReplayFiles | undefined;
  // --out and the file names are checked (and DIR made) before any broker is started or reached.
  const rt = await openRuntime("replay", (cfg) => {
    files = replayFiles(opts.out, cfg);
    prepareReplayOut(opts.out, files);
  }, { attach: true });
  /** The stream being read, for the error line. */
  let reading: string | null = null;
  try {
    if (files === undefined) throw new Error("replay: output files not checked"); // set by the check above
    const s = await replayStreams(rt.nc, rt.cfg, files, { since, until, log: rt.log, onStream: (stream) => (reading = stream) });
    rt.log.info({ facts: s.facts, batches: s.batches, invalid: s.invalid, deadLetters: s.deadLetters, ...s.engine, ...s.outputs, files }, "replay done");
  } catch (err) {
    throw replayError(err, opts.out, reading);
  } finally {
    await rt.close();
  }
}
