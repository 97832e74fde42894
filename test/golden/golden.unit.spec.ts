// The three output files, byte for byte, from a fixed recorded input (input.ts): the traffic log, the service
// map and the environment inventory, each rendered by its service's fold (MapperOutputs, EnvInventory) through
// its projection and written by the one writer (@adi/shared OutputFiles) the way `adi replay` writes them (staged,
// drained after every observation, closed at the end). No wall clock: capture and store times are in the input.
// A deliberate change of an output: `UPDATE_GOLDEN=1 vitest run --project unit test/golden` rewrites the files,
// and the diff of test/golden/*.{log,yaml} is the change to review.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { OutputFiles } from "@adi/shared";
import { RedactionPolicy } from "@adi/shared/redaction";
import { MapperOutputs, serviceMapProjection, trafficLogProjection } from "@adi/mapper";
import { EnvInventory, envInventoryProjection } from "@adi/enricher";
import { DERIVED, FACTS } from "./input.ts";

const GOLDEN = fileURLToPath(new URL(".", import.meta.url));
const NAMES = { log: "traffic.jsonl", map: "service-map.yaml", env: "env.yaml" } as const;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "adi-golden-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Folds the input into the three files in `out`, as replay does; returns their contents. */
async function render(out: string): Promise<Record<keyof typeof NAMES, string>> {
  const redaction = RedactionPolicy.DEFAULT;
  const outputs = new MapperOutputs({ redaction });
  const inventory = new EnvInventory({ redaction });
  const files = await OutputFiles.open(
    [
      { path: join(out, NAMES.log), variable: "OUTPUT_PATH", projection: trafficLogProjection(outputs) },
      { path: join(out, NAMES.map), variable: "SERVICE_MAP_PATH", projection: serviceMapProjection(outputs) },
      { path: join(out, NAMES.env), variable: "ENV_OUTPUT_PATH", projection: envInventoryProjection(inventory) },
    ],
    { staged: true, timed: false },
  );
  for (const { fact, storedAtMs } of FACTS) {
    outputs.addFact(fact, storedAtMs);
    if (fact.type === "process") inventory.add(fact);
  }
  for (const { observation, storedAtMs } of DERIVED) {
    outputs.addDerived(observation, storedAtMs);
    files.changed();
    await files.drain();
  }
  files.changed();
  await files.close();
  const read = (name: string) => readFile(join(out, name), "utf8");
  return { log: await read(NAMES.log), map: await read(NAMES.map), env: await read(NAMES.env) };
}

describe("golden outputs", () => {
  it.each(Object.keys(NAMES) as (keyof typeof NAMES)[])("%s matches test/golden byte for byte", async (which) => {
    const got = await render(dir);
    const path = join(GOLDEN, NAMES[which]);
    if (process.env.UPDATE_GOLDEN === "1") await writeFile(path, got[which]);
    expect(got[which]).toBe(await readFile(path, "utf8"));
  });

  it("is deterministic: a second run writes the same bytes, and the redaction held", async () => {
    const a = await render(dir);
    const b = await render(await mkdtemp(join(dir, "again-")));
    expect(b).toEqual(a);
    const all = Object.values(a).join("");
    expect(all).not.toContain("hunter2");
    expect(all).not.toContain("s3cr3t-token");
    // Two lines per view of a call (4 client views, 1 server view) and one for the database: the log keeps every
    // view; the map counts the POST seen from both ends once.
    expect(a.log.trimEnd().split("\n")).toHaveLength(11);
    expect(a.map.match(/count: 1\n/g)).toHaveLength(5);
  });
});
