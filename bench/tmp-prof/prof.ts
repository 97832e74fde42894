// Throwaway (not committed): replay + live classifier profile on a synthetic stream.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startBroker } from "../lib/pipeline-procs.ts";
import { publishSyntheticStream } from "../../test/support/synthetic-stream.ts";
import { runReplay, runLive, summariseProfile, readProfile } from "../scenarios/replay-throughput.ts";
const events = Number(process.env.EVENTS ?? 200000);
const broker = await startBroker();
const stats = await publishSyntheticStream(broker.nc, { events, partitions: 16 });
const dir = mkdtempSync(join(tmpdir(), "adi-prof-"));
const ctx = { broker, dir, stats, log: (m: string) => console.error(m) };
for (const what of (process.env.WHAT ?? "replay,live").split(",")) {
  const profDir = mkdtempSync(join(dir, `prof-${what}-`));
  const r = what === "replay" ? await runReplay(ctx, { nodeOptions: ["--cpu-prof", `--cpu-prof-dir=${profDir}`] }) : await runLive(ctx, 1, { nodeOptions: ["--cpu-prof", `--cpu-prof-dir=${profDir}`] });
  console.log(what, JSON.stringify(r));
  const s = summariseProfile(readProfile(profDir));
  const t = s as unknown as { top?: { name: string; pct: number }[]; functions?: { name: string; pct: number }[]; areas?: { name: string; pct: number }[] }; for (const [k, v] of Object.entries(s)) if (Array.isArray(v)) { console.log("== " + k); for (const f of (v as { name: string; pct: number }[]).slice(0, 25)) console.log(f.pct.toFixed(1).padStart(5), f.name); } else console.log(k, JSON.stringify(v)); void t;
}
await broker.stop?.();
process.exit(0);
