// Command lines: secrets passed as arguments (`mysql -pSECRET`, `curl -u user:pw`, `redis-cli -a SECRET`). The
// flags are a table per program, because one flag means different things: `-p` is mysql's password (attached)
// and psql's PORT (`psql -p 5432` stays as it is). After the flags, the text rules (values.ts) run on every
// argument: URLs with a password, `PGPASSWORD=…`, tokens by their look.
import { REDACTED, type SecretNames } from "./names.ts";
import { AUTH_SCHEMES } from "./values.ts";

/**
 * How a flag's value is given: `attached` (`-pSECRET`, `-uuser:pw`), `equals` (`--password=SECRET`), `separate`
 * (the next argument: `-a SECRET`).
 */
export type FlagForm = "attached" | "equals" | "separate";

/**
 * What the value is, hence which part is hidden: `secret` all of it; `userinfo` the password after the first ':'
 * (`user:[REDACTED]`; a value without ':' is a user name and stays); `header` an HTTP header line, hidden when its
 * name is a secret name (`Authorization: [REDACTED]`); `cookie` cookie pairs (`-b 'sid=…'`), not a file name.
 */
export type FlagValue = "secret" | "userinfo" | "header" | "cookie";

export interface CmdlineFlagRule {
  readonly name: string;
  /** Program base names (argv[0] without its directory) the rule is for. */
  readonly programs: readonly string[];
  readonly flags: readonly string[];
  readonly forms: readonly FlagForm[];
  readonly value: FlagValue;
  /** Only under these subcommands (the first argument after the program that is not a flag, lower-cased). */
  readonly subcommands?: readonly string[];
  /** The program's documentation. */
  readonly source: string;
}

const MYSQL_CLIENTS = ["mysql", "mariadb", "mysqldump", "mariadb-dump", "mysqladmin", "mariadb-admin", "mysqlimport", "mysqlshow", "mysqlcheck", "mysqlslap", "mysqlbinlog"];
const REDIS_CLIS = ["redis-cli", "valkey-cli", "keydb-cli"];
const CONTAINER_CLIS = ["docker", "podman", "nerdctl", "buildah", "skopeo"];
const MONGO_TOOLS = ["mongo", "mongosh", "mongodump", "mongorestore", "mongoexport", "mongoimport", "mongostat", "mongotop"];

/** Program-specific flags that carry secrets. */
export const CMDLINE_FLAG_RULES: readonly CmdlineFlagRule[] = [
  { name: "mysql-p", programs: MYSQL_CLIENTS, flags: ["-p"], forms: ["attached"], value: "secret", source: "mysql(1): -p[password]: no space between -p and the password (a lone -p prompts)" },
  { name: "mysql-password", programs: MYSQL_CLIENTS, flags: ["--password"], forms: ["equals"], value: "secret", source: "mysql(1): --password[=password]: without '=' it prompts, the next argument is not a password" },
  { name: "redis-cli-a", programs: REDIS_CLIS, flags: ["-a", "--pass"], forms: ["separate"], value: "secret", source: "redis-cli --help: -a <password>, --pass <password>" },
  { name: "curl-user", programs: ["curl"], flags: ["-u", "--user", "-U", "--proxy-user"], forms: ["attached", "separate"], value: "userinfo", source: "curl(1): -u, --user <user:password>; -U, --proxy-user <user:password>" },
  { name: "curl-header", programs: ["curl"], flags: ["-H", "--header", "--proxy-header"], forms: ["attached", "separate"], value: "header", source: "curl(1): -H, --header <header/@file>" },
  { name: "curl-bearer", programs: ["curl"], flags: ["--oauth2-bearer"], forms: ["separate"], value: "secret", source: "curl(1): --oauth2-bearer <token>" },
  { name: "curl-cookie", programs: ["curl"], flags: ["-b", "--cookie"], forms: ["attached", "separate"], value: "cookie", source: "curl(1): -b, --cookie <data|filename>: data when it holds '='" },
  { name: "wget-header", programs: ["wget"], flags: ["--header"], forms: ["equals", "separate"], value: "header", source: "wget(1): --header=header-line" },
  { name: "httpie-auth", programs: ["http", "https", "httpie"], flags: ["-a", "--auth"], forms: ["separate", "equals"], value: "userinfo", source: "HTTPie: -a, --auth USER[:PASS]" },
  { name: "mongo-password", programs: MONGO_TOOLS, flags: ["-p", "--password"], forms: ["separate", "equals"], value: "secret", source: "mongosh / MongoDB Database Tools: -p, --password <password>" },
  { name: "sshpass-p", programs: ["sshpass"], flags: ["-p"], forms: ["attached", "separate"], value: "secret", source: "sshpass(1): -p password" },
  { name: "docker-login-password", programs: CONTAINER_CLIS, flags: ["-p", "--password"], forms: ["separate", "equals"], value: "secret", subcommands: ["login"], source: "docker login: -p, --password string (--password-stdin takes none); podman/nerdctl/buildah/skopeo login alike. Only under login: `docker run -p` publishes a port" },
  { name: "sqlcmd-P", programs: ["sqlcmd", "bcp", "osql", "isql"], flags: ["-P"], forms: ["separate", "attached"], value: "secret", source: "sqlcmd utility (SQL Server): -P password; bcp -P password; unixODBC isql DSN USER PASSWORD takes it positionally" },
  { name: "openssl-pass", programs: ["openssl"], flags: ["-pass", "-passin", "-passout", "-k"], forms: ["separate"], value: "secret", source: "openssl-passphrase-options(1): -pass/-passin/-passout arg (pass:…), enc -k password" },
];

/**
 * Flags with a secret-looking name that take NO value in a program: the generic `--<secret name> value` rule must
 * not hide the next argument (psql's `--password` forces a prompt, `psql --password mydb` names a database).
 */
export const CMDLINE_VALUELESS_FLAGS: Readonly<Record<string, readonly string[]>> = {
  psql: ["--password", "-W", "--no-password", "-w"],
  pg_dump: ["--password", "-W", "--no-password", "-w"],
  pg_restore: ["--password", "-W", "--no-password", "-w"],
  pg_dumpall: ["--password", "-W", "--no-password", "-w"],
  ...Object.fromEntries(MYSQL_CLIENTS.map((p) => [p, ["--password"]])),
  ...Object.fromEntries(REDIS_CLIS.map((p) => [p, ["--askpass", "--no-auth-warning"]])),
  ...Object.fromEntries(CONTAINER_CLIS.map((p) => [p, ["--password-stdin"]])),
};

/**
 * Secrets given as positional arguments, after a subcommand: the `position`-th argument (0-based, flags not
 * counted) after the `subcommand` words, or the `last` one. `requiresShortFlag`: only when a short-flag bundle holds
 * this letter (htpasswd's -b: the password is on the command line). `nameAt`: only when the argument at that
 * position is a secret name (`aws configure set <name> <value>`). `skip`: arguments that are not the secret.
 */
export interface CmdlinePositionalRule {
  readonly name: string;
  readonly programs: readonly string[];
  readonly subcommand: readonly string[];
  readonly position: number | "last";
  readonly requiresShortFlag?: string;
  readonly nameAt?: number;
  readonly skip?: RegExp;
  readonly source: string;
}

export const CMDLINE_POSITIONAL_RULES: readonly CmdlinePositionalRule[] = [
  { name: "htpasswd-b", programs: ["htpasswd"], subcommand: [], position: "last", requiresShortFlag: "b", source: "htpasswd(1): -b: htpasswd -b[c] passwordfile username password, htpasswd -nb username password" },
  { name: "vault-login", programs: ["vault", "bao"], subcommand: ["login"], position: 0, skip: /=/, source: "vault login [options] [TOKEN] (token auth); key=value arguments are auth method parameters (text rules); OpenBao alike" },
  { name: "aws-configure-set", programs: ["aws"], subcommand: ["configure", "set"], position: 1, nameAt: 0, source: "aws configure set varname value: the value of a secret-named variable (aws_secret_access_key, aws_session_token)" },
];

/**
 * Any program: `--<secret name>=value`, and `--<secret name> value` when the next argument is not a flag
 * (`--token X`, `--api-key X`, `--client-secret X`). `--no-…` flags are switches.
 */
export const GENERIC_LONG_FLAG = /^--(?!no-)(?<name>[A-Za-z0-9][A-Za-z0-9_.-]*)$/;

/** Programs that run another command given as their arguments: the first non-flag argument is the program. */
const KNOWN_PROGRAMS: ReadonlySet<string> = new Set([
  ...CMDLINE_FLAG_RULES.flatMap((r) => r.programs),
  ...Object.keys(CMDLINE_VALUELESS_FLAGS),
  ...CMDLINE_POSITIONAL_RULES.flatMap((r) => r.programs),
]);

const SCHEME_WORD = new Set(AUTH_SCHEMES.map((s) => s.toLowerCase()));

/** argv[0]'s base name, lower-cased: `/usr/bin/mysql` -> mysql. */
function programOf(arg: string): string {
  return (arg.slice(arg.lastIndexOf("/") + 1) || arg).toLowerCase();
}

/** One argument (joined mode: one whitespace-separated word) and whether a rule already rewrote it. */
interface Arg {
  text: string;
  done: boolean;
  /** Joined mode: folded into the previous argument's value (removed with its separator). */
  dropped?: boolean;
}

/** Helpers from the policy (free-text rules on every argument). */
export interface CmdlineContext {
  readonly names: SecretNames;
  /** The text rules (fields, values) on one argument. */
  readonly text: (arg: string) => string;
}

function userinfo(value: string): string {
  const colon = value.indexOf(":");
  return colon < 0 ? value : `${value.slice(0, colon)}:${REDACTED}`;
}

function cookie(value: string): string {
  if (!value.includes("=")) return value; // a cookie file
  return value.replace(/(^|;\s*)([^=;\s]+)=([^;]*)/g, (_m, sep: string, name: string, v: string) => (v === "" ? `${sep}${name}=` : `${sep}${name}=${REDACTED}`));
}

/** `Name: value` -> `Name: [REDACTED]` when Name is a secret name; `undefined` when it is not one. */
function headerLine(value: string, names: SecretNames): string | undefined {
  const m = /^(\s*['"]?)([!#$%&'*+.^_`|~0-9A-Za-z-]+)(\s*:\s*)/.exec(value);
  if (m === null || !names.test(m[2]!)) return undefined;
  const rest = value.slice(m[0].length);
  const quote = m[1]!.trim();
  const tail = quote !== "" && rest.endsWith(quote) ? quote : "";
  return rest === "" ? value : `${m[0]}${REDACTED}${tail}`;
}

function hide(value: string, kind: FlagValue, names: SecretNames): string {
  switch (kind) {
    case "secret":
      return value === "" ? value : REDACTED;
    case "userinfo":
      return userinfo(value);
    case "cookie":
      return cookie(value);
    case "header":
      return headerLine(value, names) ?? value;
  }
}

/**
 * Joined mode: a header whose value was split into words (`-H Authorization: Bearer abc` from /proc's
 * space-joined cmdline). The name word is at `at`; its value runs to the word closing its quote when the name
 * opened one, else it is the scheme word (if any) and one word, plus words while the previous one ends with ','
 * (Digest parameters). Those words become one `[REDACTED]`.
 */
function foldHeaderWords(args: Arg[], at: number, names: SecretNames): boolean {
  const head = args[at]!;
  const m = /^(['"]?)([!#$%&'*+.^_`|~0-9A-Za-z-]+):$/.exec(head.text);
  if (m === null || !names.test(m[2]!) || at + 1 >= args.length) return false;
  const quote = m[1]!;
  let last = at + 1;
  // A quoted header (inside `sh -c "curl -H 'Authorization: …' …"`) ends at the word that closes the quote.
  const closing = quote === "" ? -1 : args.findIndex((a, k) => k > at && a.text.endsWith(quote));
  if (closing > 0) last = closing;
  else {
    if (SCHEME_WORD.has(args[last]!.text.replace(/^['"]/, "").toLowerCase()) && last + 1 < args.length) last++;
    while (args[last]!.text.endsWith(",") && last + 1 < args.length) last++;
  }
  const lastText = args[last]!.text;
  head.done = true;
  args[at + 1] = { text: REDACTED + (quote !== "" && lastText.endsWith(quote) ? quote : ""), done: true };
  for (let k = at + 2; k <= last; k++) args[k] = { text: "", done: true, dropped: true };
  return true;
}

function ruleFor(program: string, flag: string, sub: string | null): CmdlineFlagRule | undefined {
  return CMDLINE_FLAG_RULES.find(
    (r) => r.programs.includes(program) && r.flags.includes(flag) && (r.subcommands === undefined || (sub !== null && r.subcommands.includes(sub))),
  );
}

/** Applies CMDLINE_POSITIONAL_RULES to `args` in place (after the flag rules: what they rewrote is not positional). */
function applyPositionals(args: Arg[], names: SecretNames): void {
  for (const rule of CMDLINE_POSITIONAL_RULES) {
    const at = args.findIndex((a, k) => (k === 0 || !a.text.startsWith("-")) && rule.programs.includes(programOf(a.text)));
    if (at < 0) continue;
    const rest = args.slice(at + 1).filter((a) => !a.dropped);
    const letter = rule.requiresShortFlag;
    if (letter !== undefined && !rest.some((a) => /^-[A-Za-z]+$/.test(a.text) && a.text.includes(letter))) continue;
    const positional = rest.filter((a) => !a.done && !a.text.startsWith("-"));
    const words = rule.subcommand;
    const from = positional.findIndex((_a, k) => words.every((w, d) => positional[k + d]?.text.toLowerCase() === w));
    if (from < 0) continue;
    const after = positional.slice(from + words.length);
    const target = rule.position === "last" ? after.at(-1) : after[rule.position];
    if (target === undefined || target.text === "" || rule.skip?.test(target.text) === true) continue;
    if (rule.nameAt !== undefined && !names.test(after[rule.nameAt]?.text ?? "")) continue;
    const quote = /^(['"]).*\1$/.exec(target.text)?.[1] ?? "";
    target.text = quote + REDACTED + quote;
    target.done = true;
  }
}

/** Applies the flag rules to `args` in place; `joined`: the words of a space-joined command line. */
function applyFlags(args: Arg[], ctx: CmdlineContext, joined: boolean): void {
  let program = args.length > 0 ? programOf(args[0]!.text) : "";
  let sub: string | null = null;
  for (let i = 1; i < args.length; i++) {
    const arg = args[i]!;
    if (arg.done) continue;
    const text = arg.text;
    if (!text.startsWith("-")) {
      if (KNOWN_PROGRAMS.has(programOf(text))) {
        program = programOf(text); // sudo mysql …, env X=1 curl …
        sub = null;
      } else sub ??= text.toLowerCase();
      continue;
    }
    const eq = text.indexOf("=");
    const flag = eq > 0 && text.startsWith("--") ? text.slice(0, eq) : text;
    // Exact flag: separate value.
    const exact = ruleFor(program, text, sub);
    if (exact && exact.forms.includes("separate") && i + 1 < args.length) {
      const next = args[i + 1]!;
      if (exact.value === "header" && joined && foldHeaderWords(args, i + 1, ctx.names)) {
        i++;
        continue;
      }
      next.text = hide(next.text, exact.value, ctx.names);
      next.done = true;
      i++;
      continue;
    }
    // --flag=value
    if (eq > 0 && text.startsWith("--")) {
      const rule = ruleFor(program, flag, sub);
      if (rule?.forms.includes("equals")) {
        arg.text = `${flag}=${hide(text.slice(eq + 1), rule.value, ctx.names)}`;
        arg.done = true;
        continue;
      }
    }
    // -Xvalue (attached short flag)
    if (!text.startsWith("--") && text.length > 2) {
      const short = text.slice(0, 2);
      const rule = ruleFor(program, short, sub);
      if (rule?.forms.includes("attached")) {
        arg.text = short + hide(text.slice(2), rule.value, ctx.names);
        arg.done = true;
        continue;
      }
    }
    if (exact) continue; // a known flag of this program, without a value here (mysql's lone -p prompts)
    // Generic: --<secret name> value (the =value form is the text rules' key-value).
    const generic = GENERIC_LONG_FLAG.exec(text);
    if (generic && ctx.names.test(generic.groups!.name!) && !(CMDLINE_VALUELESS_FLAGS[program] ?? []).includes(text)) {
      const next = args[i + 1];
      if (next !== undefined && !next.done && !next.text.startsWith("-")) {
        next.text = hide(next.text, "secret", ctx.names);
        next.done = true;
        i++;
      }
    }
  }
}

/**
 * Redacts an argument vector (argv as the kernel or /proc gives it; argv[0] names the program). Returns a new
 * array of the same length: flag values per CMDLINE_FLAG_RULES and the generic long-flag rule, then the text rules
 * on every argument; an argument that is itself a command (`sh -c "mysql -pX db"`) is redacted as a command line.
 */
export function redactArgv(argv: readonly string[], ctx: CmdlineContext): string[] {
  const args: Arg[] = argv.map((text) => ({ text, done: false }));
  applyFlags(args, ctx, false);
  applyPositionals(args, ctx.names);
  return args.map((a) => {
    if (/\s/.test(a.text) && !a.done) return redactCmdlineText(a.text, ctx);
    return ctx.text(a.text);
  });
}

/**
 * Redacts a command line joined by spaces (ProcessFact.cmdline: the Go tool's format, argument boundaries lost):
 * the words are the arguments, a header value split over words is folded (see foldHeaderWords), the spacing kept.
 */
export function redactCmdlineText(cmdline: string, ctx: CmdlineContext): string {
  if (cmdline === "") return cmdline;
  // The text rules on the whole line first: a secret spread over words (`PASSWORD 'x'` in `psql -c "ALTER …"`).
  const parts = ctx.text(cmdline).split(/(\s+)/);
  // parts: word, space, word, space, ... (a leading space gives an empty first word)
  const args: Arg[] = [];
  const spaces: string[] = [];
  for (let k = 0; k < parts.length; k += 2) {
    args.push({ text: parts[k]!, done: false });
    spaces.push(parts[k + 1] ?? "");
  }
  applyFlags(args, ctx, true);
  applyPositionals(args, ctx.names);
  let out = "";
  for (let k = 0; k < args.length; k++) {
    const a = args[k]!;
    if (a.dropped) continue;
    out += (k > 0 ? spaces[k - 1] : "") + ctx.text(a.text);
  }
  return out;
}
