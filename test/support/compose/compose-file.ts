// The compose file as the tests run it, without docker-compose: Debian 12 ships only docker-compose v1, and
// testcontainers' DockerComposeEnvironment needs v2 (`docker compose`), so test/support/compose-stack.ts starts
// the services itself, one testcontainers GenericContainer per replica. This module is the pure part: parse the
// files (YAML 1.1 merge keys, as compose reads them), interpolate variables, merge override files and turn each
// service into a ServiceSpec. Compose keys are a rule table: a key the table does not know is an error, so the
// deployed file cannot grow a setting (ports, healthcheck, networks...) that the test would silently not apply.
// Rules from the Compose Specification (compose-spec.io): interpolation, merge of overrides, short volume syntax.
import { isAbsolute, resolve } from "node:path";
import { parse } from "yaml";

/** One service as the stack starts it. Paths are absolute; `volumes` are named volumes' names or host paths. */
export interface ServiceSpec {
  name: string;
  image: string;
  /** Overrides the image's ENTRYPOINT when set. */
  entrypoint?: string[];
  /** Overrides the image's CMD when set. */
  command?: string[];
  environment: Record<string, string>;
  labels: Record<string, string>;
  /** Bind mounts and named volumes (`named` true: `source` is a volume name of the file's `volumes:`). */
  volumes: { source: string; target: string; readOnly: boolean; named: boolean }[];
  /** Published ports (`ports:` short syntax): no `hostPort` means a port Docker picks. */
  ports: { containerPort: number; protocol: "tcp" | "udp"; hostPort?: number; hostIp?: string }[];
  capAdd: string[];
  capDrop: string[];
  securityOpt: string[];
  /** `user:` (uid[:gid], numeric or names the image knows). */
  user?: string;
  /** Supplementary groups (`group_add:`), numeric or names. */
  groupAdd: string[];
  /** `read_only:` the container's root filesystem. */
  readOnly: boolean;
  /** `host` shares the host's pid namespace. */
  pid?: string;
  /** Docker restart policy name (`no`, `always`, `on-failure`, `unless-stopped`). */
  restart?: string;
  dependsOn: string[];
  replicas: number;
}

/** How an override file's value of a service key combines with the base file's (Compose Specification, merge). */
type MergeRule = "replace" | "merge-map" | "union" | "by-target" | "ignored";

/**
 * Every service key the stack applies, with its merge rule. `build` is ignored: the images are built before the
 * stack starts (compose's `up --no-build`). Anything else is refused (see the module comment).
 */
export const SERVICE_KEYS: Readonly<Record<string, MergeRule>> = {
  image: "replace",
  build: "ignored",
  entrypoint: "replace",
  command: "replace",
  environment: "merge-map",
  labels: "merge-map",
  deploy: "merge-map",
  volumes: "by-target",
  ports: "union",
  cap_add: "union",
  cap_drop: "union",
  security_opt: "union",
  user: "replace",
  group_add: "union",
  read_only: "replace",
  depends_on: "union",
  pid: "replace",
  restart: "replace",
};
/** The `deploy` keys the stack applies. */
const DEPLOY_KEYS = new Set(["replicas"]);
const TOP_LEVEL_KEYS = new Set(["services", "volumes", "version", "name"]);

type Raw = Record<string, unknown>;

/** A compose error: names the file or service and the key. */
export class ComposeFileError extends Error {}

/**
 * Replaces `${VAR}`, `${VAR:-default}` (unset or empty), `${VAR-default}` (unset), `${VAR:?message}` /
 * `${VAR?message}` (throws ComposeFileError), `$VAR`, and `$$` (a literal `$`) in `text`, as compose does.
 */
export function interpolate(text: string, env: Readonly<Record<string, string | undefined>>): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c !== "$") {
      out += c;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === "$") {
      out += "$";
      i += 2;
    } else if (next === "{") {
      // The matching brace: a default may itself hold ${...} (nested interpolation).
      let depth = 1;
      let j = i + 2;
      for (; j < text.length && depth > 0; j++) {
        if (text[j] === "{") depth++;
        else if (text[j] === "}") depth--;
      }
      if (depth > 0) throw new ComposeFileError(`unterminated \${ in "${text}"`);
      out += substitute(text.slice(i + 2, j - 1), env);
      i = j;
    } else {
      const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i + 1))?.[0];
      if (name === undefined) {
        out += "$"; // a lone $ is kept, as compose keeps it
        i++;
      } else {
        out += env[name] ?? "";
        i += 1 + name.length;
      }
    }
  }
  return out;
}

/** One `${...}` body: `NAME`, `NAME:-default`, `NAME-default`, `NAME:?message`, `NAME?message`. */
function substitute(body: string, env: Readonly<Record<string, string | undefined>>): string {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([\s\S]*))?$/.exec(body);
  if (!m) throw new ComposeFileError(`invalid interpolation "\${${body}}"`);
  const [, name, colon, op, arg] = m as unknown as [string, string, string | undefined, string | undefined, string | undefined];
  const value = env[name];
  const missing = value === undefined || (colon === ":" && value === "");
  if (op === "-") return missing ? interpolate(arg ?? "", env) : value!;
  if (op === "?") {
    if (missing) throw new ComposeFileError(`variable ${name} is required: ${arg || "missing"}`);
    return value!;
  }
  return value ?? "";
}

function interpolateTree(node: unknown, env: Readonly<Record<string, string | undefined>>): unknown {
  if (typeof node === "string") return interpolate(node, env);
  if (Array.isArray(node)) return node.map((n) => interpolateTree(n, env));
  if (node !== null && typeof node === "object") return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, interpolateTree(v, env)]));
  return node;
}

/** Parses one compose file's text (YAML 1.1 merge keys on) and interpolates every string value with `env`. */
export function parseComposeText(text: string, env: Readonly<Record<string, string | undefined>>, file = "compose file"): Raw {
  const doc = parse(text, { merge: true }) as unknown;
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) throw new ComposeFileError(`${file}: not a mapping`);
  for (const key of Object.keys(doc)) {
    if (!TOP_LEVEL_KEYS.has(key) && !key.startsWith("x-")) throw new ComposeFileError(`${file}: top-level key "${key}" is not supported`);
  }
  return interpolateTree(doc, env) as Raw;
}

const asMap = (v: unknown, what: string): Record<string, string> => {
  if (v === undefined || v === null) return {};
  // The list form `KEY=value` (a bare `KEY` takes nothing here: the stack has no shell environment to pass on).
  if (Array.isArray(v)) return Object.fromEntries(v.map((e) => String(e)).map((e) => [e.split("=")[0]!, e.includes("=") ? e.slice(e.indexOf("=") + 1) : ""]));
  if (typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, x === null ? "" : String(x)]));
  throw new ComposeFileError(`${what}: expected a mapping or a list`);
};
const asList = (v: unknown, what: string): string[] => {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v.map(String);
  if (typeof v === "string") return [v];
  throw new ComposeFileError(`${what}: expected a list`);
};
const volumeTarget = (v: unknown) => String(v).split(":")[1] ?? String(v);

/** Merges an override file's service into the base's, key by key, by SERVICE_KEYS. */
function mergeService(name: string, base: Raw, over: Raw): Raw {
  const out: Raw = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const rule = SERVICE_KEYS[key];
    const what = `service ${name}: ${key}`;
    if (rule === undefined) throw new ComposeFileError(`${what}: key not supported by test/support/compose`);
    if (rule === "replace" || rule === "ignored" || !(key in base)) out[key] = value;
    else if (rule === "merge-map") out[key] = key === "deploy" ? { ...(base[key] as Raw), ...(value as Raw) } : { ...asMap(base[key], what), ...asMap(value, what) };
    else if (rule === "union") out[key] = [...new Set([...asList(base[key], what), ...asList(value, what)])];
    else {
      const overTargets = new Set(asList(value, what).map(volumeTarget));
      out[key] = [...asList(base[key], what).filter((v) => !overTargets.has(volumeTarget(v))), ...asList(value, what)];
    }
  }
  return out;
}

/** `entrypoint`/`command`: a list is taken as it is; a string is split on spaces (compose's shell-like split, unquoted). */
const asArgv = (v: unknown): string[] | undefined => (v === undefined || v === null ? undefined : Array.isArray(v) ? v.map(String) : String(v).trim().split(/\s+/));

/**
 * The services of `docs` (parsed files, base first, then overrides), as ServiceSpecs in file order. `projectDir`
 * resolves relative bind-mount sources (compose: relative to the first file's directory). Throws ComposeFileError
 * for an unsupported key, a service without an image, an unknown named volume or dependency.
 */
export function composeServices(docs: Raw[], projectDir: string): ServiceSpec[] {
  const merged = new Map<string, Raw>();
  const volumes = new Set<string>();
  for (const doc of docs) {
    for (const v of Object.keys((doc.volumes as Raw | undefined) ?? {})) volumes.add(v);
    for (const [name, svc] of Object.entries((doc.services as Raw | undefined) ?? {})) {
      const raw = (svc ?? {}) as Raw;
      merged.set(name, merged.has(name) ? mergeService(name, merged.get(name)!, raw) : mergeService(name, {}, raw));
    }
  }
  const specs = [...merged].map(([name, s]): ServiceSpec => {
    const what = (k: string) => `service ${name}: ${k}`;
    if (typeof s.image !== "string" || s.image === "") throw new ComposeFileError(`${what("image")}: missing (the stack does not build)`);
    const deploy = (s.deploy ?? {}) as Raw;
    for (const k of Object.keys(deploy)) if (!DEPLOY_KEYS.has(k)) throw new ComposeFileError(`${what("deploy")}.${k}: not supported`);
    const replicas = deploy.replicas === undefined ? 1 : Number(deploy.replicas);
    if (!Number.isInteger(replicas) || replicas < 0) throw new ComposeFileError(`${what("deploy.replicas")}: ${String(deploy.replicas)} is not a count`);
    return {
      name,
      image: s.image,
      entrypoint: asArgv(s.entrypoint),
      command: asArgv(s.command),
      environment: asMap(s.environment, what("environment")),
      labels: asMap(s.labels, what("labels")),
      volumes: asList(s.volumes, what("volumes")).map((v) => {
        const [source = "", target, mode] = v.split(":");
        if (!target) throw new ComposeFileError(`${what("volumes")}: "${v}" has no target (anonymous volumes are not supported)`);
        const named = !source.startsWith(".") && !isAbsolute(source) && !source.startsWith("~");
        if (named && !volumes.has(source)) throw new ComposeFileError(`${what("volumes")}: named volume "${source}" is not declared`);
        return { source: named ? source : resolve(projectDir, source), target, readOnly: mode?.split(",").includes("ro") ?? false, named };
      }),
      ports: asList(s.ports, what("ports")).map((p) => parsePort(p, what("ports"))),
      capAdd: asList(s.cap_add, what("cap_add")),
      capDrop: asList(s.cap_drop, what("cap_drop")),
      securityOpt: asList(s.security_opt, what("security_opt")),
      user: s.user === undefined ? undefined : String(s.user),
      groupAdd: asList(s.group_add, what("group_add")),
      readOnly: s.read_only === true || s.read_only === "true",
      pid: s.pid === undefined ? undefined : String(s.pid),
      restart: s.restart === undefined ? undefined : String(s.restart),
      dependsOn: Array.isArray(s.depends_on) ? s.depends_on.map(String) : Object.keys((s.depends_on as Raw | undefined) ?? {}),
      replicas,
    };
  });
  for (const s of specs) {
    for (const d of s.dependsOn) if (!merged.has(d)) throw new ComposeFileError(`service ${s.name}: depends_on "${d}" is not a service`);
  }
  return specs;
}

/** One `ports:` entry, short syntax: `[[IP:]HOST:]CONTAINER[/tcp|/udp]` (ranges are not supported). */
function parsePort(text: string, what: string): ServiceSpec["ports"][number] {
  const m = /^(?:(?:(\d{1,3}(?:\.\d{1,3}){3}):)?(\d+):)?(\d+)(?:\/(tcp|udp))?$/.exec(text);
  if (!m) throw new ComposeFileError(`${what}: "${text}" is not [[ip:]host:]container[/proto]`);
  const [, hostIp, hostPort, containerPort, protocol] = m;
  return {
    containerPort: Number(containerPort),
    protocol: (protocol ?? "tcp") as "tcp" | "udp",
    ...(hostPort === undefined ? {} : { hostPort: Number(hostPort) }),
    ...(hostIp === undefined ? {} : { hostIp }),
  };
}

/**
 * The start order compose uses: waves of services whose dependencies are all in earlier waves (each wave may
 * start in parallel). Throws ComposeFileError on a dependency cycle.
 */
export function startWaves(services: readonly ServiceSpec[]): ServiceSpec[][] {
  const waves: ServiceSpec[][] = [];
  const placed = new Set<string>();
  let left = [...services];
  while (left.length > 0) {
    const wave = left.filter((s) => s.dependsOn.every((d) => placed.has(d)));
    if (wave.length === 0) throw new ComposeFileError(`dependency cycle among ${left.map((s) => s.name).join(", ")}`);
    for (const s of wave) placed.add(s.name);
    waves.push(wave);
    left = left.filter((s) => !placed.has(s.name));
  }
  return waves;
}
