import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  formatCmdline,
  listPids,
  parseStat,
  ProcfsError,
  readProcessSnapshot,
} from "../src/adapters/procfs.ts";

/** A /proc/PID/stat line as the kernel prints it: fields 1..52, starttime at 22. */
function statLine(pid: number, comm: string, { state = "S", ppid = 1, start = 68836 } = {}): string {
  const rest = [state, ppid, pid, pid, 0, -1, 4194304, 100, 0, 0, 0, 0, 0, 0, 0, 20, 0, 1, 0, start, 3133440, 394];
  while (rest.length < 50) rest.push(0);
  return `${pid} (${comm}) ${rest.join(" ")}\n`;
}

describe("parseStat", () => {
  it("reads pid, comm, state, ppid and start ticks", () => {
    expect(parseStat(statLine(10089, "cat", { state: "R", ppid: 10086, start: 68836 }))).toEqual({
      pid: 10089,
      comm: "cat",
      state: "R",
      ppid: 10086,
      startTicks: 68836,
    });
  });

  it.each(["my prog", "(sd-pam)", "a) (b", "x) S 1 2 3", ")", "", "kworker/0:1-events"])(
    "takes comm up to the LAST ')' (%j)",
    (comm) => {
      const stat = parseStat(statLine(42, comm, { ppid: 7, start: 123 }));
      expect(stat).toEqual({ pid: 42, comm, state: "S", ppid: 7, startTicks: 123 });
    },
  );

  it("reads the real line of a process", () => {
    const line =
      "10089 (cat) R 10086 10086 5902 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 68836 3133440 394 18446744073709551615 93934158106624 93934158126505 140727611394624 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 93934158142512 93934158144128 93934707355648 140727611398685 140727611398705 140727611398705 140727611400171 0";
    expect(parseStat(line)).toMatchObject({ pid: 10089, ppid: 10086, startTicks: 68836 });
  });

  it.each(["", "10089 cat R 1", "10089 (cat) R", "x (cat) R 1 2"])("rejects %j", (line) => {
    expect(() => parseStat(line)).toThrow(TypeError);
  });
});

describe("formatCmdline", () => {
  it.each([
    ["/usr/bin/python3\0/app/server.py\0--port\x009080\0", "/usr/bin/python3 /app/server.py --port 9080"],
    ["./ratings-service\0", "./ratings-service"],
    ["no-trailing-nul\0arg", "no-trailing-nul arg"],
    ["nginx: master process /usr/sbin/nginx\0\0\0\0\0", "nginx: master process /usr/sbin/nginx"],
    ["", ""],
    ["a\0\0b\0", "a  b"],
  ])("%j -> %j", (raw, joined) => {
    expect(formatCmdline(Buffer.from(raw))).toBe(joined);
  });

  it("respects a view into a larger buffer", () => {
    expect(formatCmdline(Buffer.from("XXa\0b\0YY").subarray(2, 6))).toBe("a b");
  });
});

describe("reading a fixture /proc", () => {
  let root: string;
  const CONTAINER = "4a7b1e0c2d3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b";

  function fakeProcess(pid: number, files: Record<string, string | Buffer>, exe?: string): void {
    const dir = join(root, String(pid));
    mkdirSync(dir, { recursive: true });
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    if (exe) symlinkSync(exe, join(dir, "exe"));
  }

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "adi-procfs-"));
    fakeProcess(
      1234,
      {
        stat: statLine(1234, "python3 (app)", { ppid: 1, start: 5555 }),
        cmdline: "/usr/bin/python3\0/app/server.py\0--port\x009080\0",
        cgroup: `0::/system.slice/docker-${CONTAINER}.scope\n`,
        environ: "PATH=/usr/bin\0ADI_PROFILE=local\0ADI_PROFILE_NAME=reviews\0PATH=/ignored\0",
      },
      "/usr/bin/python3.12",
    );
    fakeProcess(2, { stat: statLine(2, "kthreadd", { ppid: 0, start: 0 }), cmdline: "", cgroup: "0::/\n", environ: "" });
    fakeProcess(77, { stat: statLine(77, "gone"), cmdline: "x\0", cgroup: "0::/\n" });
    fakeProcess(88, { stat: statLine(88, "zombie", { state: "Z" }), cmdline: "", cgroup: "0::/\n", environ: "" });
    fakeProcess(99, { stat: statLine(99, "exiting", { state: "Z" }), cmdline: "a\0", cgroup: "0::/\n", environ: "A=1\0" });
    mkdirSync(join(root, "self"));
    mkdirSync(join(root, "sys/kernel/random"), { recursive: true });
    writeFileSync(join(root, "sys/kernel/random/boot_id"), "393a8351-01d1-4c4f-84ed-e7c686d9ae26\n");
    for (const name of ["0", "012", "acpi", "10x"]) mkdirSync(join(root, name));
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("reads a whole process", () => {
    expect(readProcessSnapshot(1234, root)).toEqual({
      pid: 1234,
      startTicks: 5555,
      ppid: 1,
      comm: "python3 (app)",
      exe: "/usr/bin/python3.12",
      cmdline: "/usr/bin/python3 /app/server.py --port 9080",
      argv: ["/usr/bin/python3", "/app/server.py", "--port", "9080"],
      cgroupText: `0::/system.slice/docker-${CONTAINER}.scope\n`,
      environ: { ADI_PROFILE: "local", ADI_PROFILE_NAME: "reviews", PATH: "/usr/bin" },
    });
  });

  it("reads a kernel thread: no exe, empty cmdline and environ", () => {
    expect(readProcessSnapshot(2, root)).toMatchObject({ pid: 2, ppid: 0, comm: "kthreadd", exe: null, cmdline: "", environ: {} });
  });

  it("waits out an exec in progress: the new image's exe and comm, its argv and envp not copied yet", () => {
    // What /proc shows between begin_new_exec and create_elf_tables: exe and comm of the new program, cmdline
    // and environ zero bytes. The pause is where the kernel finishes the exec (the files get their content).
    fakeProcess(4321, { stat: statLine(4321, "python3", { ppid: 1, start: 777 }), cmdline: "", cgroup: "0::/\n", environ: "" }, "/usr/bin/python3.12");
    let pauses = 0;
    const snapshot = readProcessSnapshot(4321, root, {
      pause: () => {
        if (++pauses === 3) {
          writeFileSync(join(root, "4321/cmdline"), "python3\0-m\0http.server\0");
          writeFileSync(join(root, "4321/environ"), "ADI_PROFILE=e2e\0LP_MARK=server\0");
        }
      },
    });
    expect(pauses).toBe(3);
    expect(snapshot).toMatchObject({ comm: "python3", cmdline: "python3 -m http.server", environ: { ADI_PROFILE: "e2e", LP_MARK: "server" } });
  });

  it("returns a process that stays without argv and envp after the retries, as read", () => {
    fakeProcess(4322, { stat: statLine(4322, "odd", { ppid: 1, start: 778 }), cmdline: "", cgroup: "0::/\n", environ: "" }, "/usr/bin/odd");
    let pauses = 0;
    const snapshot = readProcessSnapshot(4322, root, { execRetries: 5, pause: () => pauses++ });
    expect({ pauses, cmdline: snapshot.cmdline, environ: snapshot.environ }).toEqual({ pauses: 5, cmdline: "", environ: {} });
  });

  it("does not wait on a kernel thread (no exe) nor on a process run with an empty environment", () => {
    fakeProcess(4323, { stat: statLine(4323, "envless", { ppid: 1, start: 779 }), cmdline: "envless\0", cgroup: "0::/\n", environ: "" }, "/usr/bin/envless");
    let pauses = 0;
    const pause = () => pauses++;
    expect(readProcessSnapshot(2, root, { pause })).toMatchObject({ exe: null, cmdline: "" });
    expect(readProcessSnapshot(4323, root, { pause })).toMatchObject({ cmdline: "envless", environ: {} });
    expect(pauses).toBe(0);
  });

  it("words a missing file like Go's os errors", () => {
    const err = (() => {
      try {
        readProcessSnapshot(77, root);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ProcfsError);
    expect((err as ProcfsError).message).toBe(`open ${root}/77/environ: no such file or directory`);
    expect((err as ProcfsError).code).toBe("ENOENT");
    expect((err as ProcfsError).path).toBe(`${root}/77/environ`);
  });

  it("fails on the first file of a process that does not exist", () => {
    expect(() => readProcessSnapshot(99999, root)).toThrow(`open ${root}/99999/stat: no such file or directory`);
  });

  it("refuses a zombie whose memory is gone", () => {
    expect(() => readProcessSnapshot(88, root)).toThrow(expect.objectContaining({ code: "ESRCH" }));
  });

  it("refuses a process that is already a zombie at the first read", () => {
    expect(() => readProcessSnapshot(99, root)).toThrow(`open ${root}/99/environ: no such process`);
  });

  it("lists numeric entries only, ascending", () => {
    expect(listPids(root)).toEqual([2, 77, 88, 99, 1234, 4321, 4322, 4323]);
  });

  it("fails to list a missing /proc with a Go-style message", () => {
    expect(() => listPids(join(root, "nope"))).toThrow(`open ${root}/nope: no such file or directory`);
  });
});

describe("the real /proc", () => {
  it("reads this test process consistently", () => {
    const snapshot = readProcessSnapshot(process.pid);
    expect(snapshot.pid).toBe(process.pid);
    expect(snapshot.ppid).toBe(process.ppid);
    expect(snapshot.startTicks).toBeGreaterThan(0);
    expect(snapshot.exe).toBe(process.execPath);
    expect(snapshot.cmdline).not.toBe("");
    expect(snapshot.cmdline).not.toContain("\0");
    expect(snapshot.environ.PATH).toBe(process.env.PATH);
    expect(listPids()).toContain(process.pid);
  });
});
