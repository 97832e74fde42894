// `npm run bench [-- --quick] [-- --only NAME]`: runs every scenario and prints one table (markdown), with how
// each figure was obtained. Results also go to bench/results/latest.json. Needs root (BPF) and the set-up of
// scripts/setup.sh; installs its own tools (wrk, tshark, bpftrace) from Debian's packages when missing.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ResultRow, Scenario } from "./lib/types.ts";
import { scenarios } from "./scenarios/index.ts";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const only = args.includes("--only") ? args[args.indexOf("--only") + 1] : undefined;
const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

const fmt = (n: number | undefined) => (n === undefined ? "" : Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(3));

function table(rows: ResultRow[]): string {
  const head = "| scenario | variant | metric | median | min | max | runs | ratio | note |\n|---|---|---|---|---|---|---|---|---|";
  return [head, ...rows.map((r) => `| ${r.scenario} | ${r.variant} | ${r.metric} (${r.unit}) | ${fmt(r.median)} | ${fmt(r.min)} | ${fmt(r.max)} | ${r.runs} | ${r.ratio === undefined ? "" : r.ratio.toFixed(3)} | ${r.note ?? ""} |`)].join("\n");
}

const selected: Scenario[] = scenarios.filter((s) => !only || s.name === only);
const rows: ResultRow[] = [];
const started = new Date();
for (const s of selected) {
  log(`${s.name}: ${s.method}`);
  try {
    rows.push(...(await s.run({ quick, log })));
  } catch (err) {
    log(`${s.name} failed: ${(err as Error).stack ?? err}`);
    rows.push({ scenario: s.name, variant: "-", metric: "failed", unit: "-", median: NaN, min: NaN, max: NaN, runs: 0, note: (err as Error).message.slice(0, 120) });
  }
}
const machine = `${cpus().length} x ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.versions.node}`;
const out = `# adi benchmarks (${quick ? "quick" : "full"} run, ${started.toISOString()})\n\nMachine: ${machine}\n\n${selected.map((s) => `- **${s.name}**: ${s.method}`).join("\n")}\n\n${table(rows)}\n`;
process.stdout.write(out);
const dir = join(fileURLToPath(new URL(".", import.meta.url)), "results");
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, "latest.json"), JSON.stringify({ started, quick, machine, rows }, null, 2));
writeFileSync(join(dir, "latest.md"), out);
if (rows.some((r) => r.metric === "failed")) process.exitCode = 1;
