// Pins the TypeScript codec to the kernel's record layouts: member offsets and struct sizes come from the BTF
// of the compiled BPF object (`make -C bpf`), enum values from bpf/capture.h. Change capture.h without the
// codec and this fails.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  CONN_LAYOUT,
  CONN_ROLES,
  DATA_LAYOUT,
  DataFlags,
  DIRECTIONS,
  HEADER_LAYOUT,
  LISTEN_LAYOUT,
  ListenFlags,
  PROC_LAYOUT,
  PROC_STRING_LENGTHS,
  RecordKind,
  SYSCALL_NAMES,
  TUPLE_LAYOUT,
  WIRE_VERSION,
} from "../src/wire/raw-events.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const OBJECT = join(ROOT, "bpf/.output/capture.bpf.o");
const HEADER = readFileSync(join(ROOT, "bpf/capture.h"), "utf8");

interface BtfMember { name: string; type_id: number; bits_offset: number }
interface BtfType { id: number; kind: string; name?: string; size?: number; type_id?: number; nr_elems?: number; members?: BtfMember[] }

function loadBtf(): Map<number, BtfType> {
  if (!existsSync(OBJECT)) throw new Error(`${OBJECT} is missing: build it with \`make -C bpf\``);
  const bpftool = existsSync("/usr/sbin/bpftool") ? "/usr/sbin/bpftool" : "bpftool";
  const json = JSON.parse(execFileSync(bpftool, ["btf", "dump", "file", OBJECT, "-j"], { encoding: "utf8", maxBuffer: 256 << 20 })) as {
    types: BtfType[];
  };
  return new Map(json.types.map((t) => [t.id, t]));
}

const btf = loadBtf();

function struct(name: string): BtfType & { size: number; members: BtfMember[] } {
  const found = [...btf.values()].filter((t) => t.kind === "STRUCT" && t.name === name);
  expect(found, `struct ${name} in the BTF of ${OBJECT}`).toHaveLength(1);
  return found[0] as BtfType & { size: number; members: BtfMember[] };
}

/** Follows typedefs and qualifiers to the underlying type. */
function resolve(id: number): BtfType {
  let t = btf.get(id)!;
  while (["TYPEDEF", "CONST", "VOLATILE"].includes(t.kind)) t = btf.get(t.type_id!)!;
  return t;
}

function member(s: BtfType & { members: BtfMember[] }, name: string): BtfMember {
  const m = s.members.find((x) => x.name === name);
  expect(m, `${s.name}.${name}`).toBeDefined();
  return m!;
}

/**
 * Every named member of the struct is in the table at the same byte offset, and the table names nothing the
 * struct lacks. `rename` maps struct member names to table keys; `embedded` members (the header) sit at 0
 * and are checked as their own struct.
 */
function expectLayout(name: string, table: Record<string, number>, rename: Record<string, string> = {}, embedded: Record<string, string> = {}): void {
  const s = struct(name);
  expect(s.size, `sizeof(struct ${name})`).toBe(table.size);
  const seen = new Set<string>(["size"]);
  for (const m of s.members) {
    expect(m.bits_offset % 8, `${name}.${m.name} is byte aligned`).toBe(0);
    if (m.name.startsWith("_")) continue; // explicit padding
    const inner = embedded[m.name];
    if (inner) {
      expect(m.bits_offset, `${name}.${m.name} comes first`).toBe(0);
      expect(resolve(m.type_id).name).toBe(inner);
      continue;
    }
    const key = rename[m.name] ?? m.name;
    expect(table, `${name}.${m.name} has an entry (${key}) in the codec's layout table`).toHaveProperty(key);
    expect(m.bits_offset / 8, `offsetof(struct ${name}, ${m.name})`).toBe(table[key]);
    seen.add(key);
  }
  const extra = Object.keys(table).filter((k) => !seen.has(k));
  expect(extra, `${name}: table entries with no struct member`).toEqual([]);
}

/** `NAME = value` (enum) and `#define NAME value` lines of capture.h with the given prefix. */
function constants(prefix: string): Map<string, number> {
  const out = new Map<string, number>();
  const re = new RegExp(`(?:#define\\s+|^\\s*)${prefix}(\\w*)\\s*=?\\s*(0x[0-9a-fA-F]+|\\d+)\\b`, "gm");
  for (const m of HEADER.matchAll(re)) out.set(m[1]!, Number(m[2]));
  expect(out.size, `constants ${prefix}* in capture.h`).toBeGreaterThan(0);
  return out;
}

const camel = (s: string) => s.toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

describe("codec layout vs the compiled BPF object", () => {
  it("reads an object built from the current capture.h", () => {
    const stale = statSync(OBJECT).mtimeMs < statSync(join(ROOT, "bpf/capture.h")).mtimeMs;
    expect(stale, "capture.h is newer than the BPF object: rebuild with `make -C bpf`").toBe(false);
  });

  it("event header", () => expectLayout("adi_event_header", HEADER_LAYOUT, { size: "size_field" }));
  it("tuple", () => expectLayout("adi_tuple", TUPLE_LAYOUT));

  it("data event", () => {
    expectLayout("adi_data_event", DATA_LAYOUT, {}, { h: "adi_event_header" });
    const s = struct("adi_data_event");
    expect(resolve(member(s, "tuple").type_id).name).toBe("adi_tuple");
    const payload = resolve(member(s, "payload").type_id);
    expect([payload.kind, payload.nr_elems], "payload is a flexible array member").toEqual(["ARRAY", 0]);
    expect(DATA_LAYOUT.payload).toBe(DATA_LAYOUT.size);
  });

  it("connection event", () => {
    expectLayout("adi_conn_event", CONN_LAYOUT, {}, { h: "adi_event_header" });
    expect(resolve(member(struct("adi_conn_event"), "tuple").type_id).name).toBe("adi_tuple");
  });

  it("process event, with its string lengths", () => {
    expectLayout("adi_proc_event", PROC_LAYOUT, {}, { h: "adi_event_header" });
    const s = struct("adi_proc_event");
    for (const [name, len] of Object.entries(PROC_STRING_LENGTHS)) {
      const t = resolve(member(s, name).type_id);
      expect([t.kind, t.nr_elems], `length of adi_proc_event.${name}`).toEqual(["ARRAY", len]);
    }
  });

  it("listen event, with its comm length", () => {
    expectLayout("adi_listen_event", LISTEN_LAYOUT, {}, { h: "adi_event_header" });
    const s = struct("adi_listen_event");
    expect(resolve(member(s, "tuple").type_id).name).toBe("adi_tuple");
    const comm = resolve(member(s, "comm").type_id);
    expect([comm.kind, comm.nr_elems], "length of adi_listen_event.comm").toEqual(["ARRAY", PROC_STRING_LENGTHS.comm]);
  });
});

describe("codec constants vs bpf/capture.h", () => {
  it("wire version", () => {
    expect(constants("ADI_WIRE_VERSION").get("")).toBe(WIRE_VERSION);
  });

  it("record kinds", () => {
    const kinds = constants("ADI_EV_");
    expect(Object.fromEntries([...kinds].map(([k, v]) => [camel(k), v]))).toEqual(RecordKind);
  });

  it("syscalls", () => {
    const sys = constants("ADI_SYS_");
    expect(SYSCALL_NAMES).toHaveLength(Math.max(...sys.values()) + 1);
    for (const [name, v] of sys) expect(SYSCALL_NAMES[v], `ADI_SYS_${name}`).toBe(name.toLowerCase());
  });

  it("data flags, directions and roles", () => {
    expect(Object.fromEntries([...constants("ADI_DATA_")].map(([k, v]) => [camel(k), v]))).toEqual(DataFlags);
    expect(Object.fromEntries([...constants("ADI_DIR_")].map(([k, v]) => [v, k.toLowerCase()]))).toEqual(DIRECTIONS);
    const roles = constants("ADI_ROLE_");
    expect(CONN_ROLES).toHaveLength(roles.size);
    for (const [name, v] of roles) expect(CONN_ROLES[v]).toBe(name.toLowerCase());
    expect(Object.fromEntries([...constants("ADI_LISTEN_")].map(([k, v]) => [camel(k), v]))).toEqual(ListenFlags);
  });
});
