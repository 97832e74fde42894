// Issue 11, end to end: secrets stay hidden. The real `adi up` (capture with ADI_CAPTURE_REDACT=on, classifier,
// mapper, enricher; its own broker behind a password) watches opted-in processes that plant secrets, each a value
// unique to this run, in every form a service leaks them: HTTP headers (one folded, one cut over two send calls),
// bodies and query strings between an opted-in client and server, command lines, environments, real logins to
// PostgreSQL (cleartext `password` method), Redis, MariaDB, NATS and RabbitMQ, and the first line of a protocol no
// rule knows; the MariaDB login's native-password proof is computed from the captured greeting. Then every output
// is searched for every secret (as planted, hex, base64 and base64url at any alignment, JSON-escaped, URL-encoded,
// and 12-character fragments of its random part, which a partial mask leaves): the traffic log, the environment
// inventory, the service map, every message of every stream (ADI_RAW's connections reassembled), adi's own log
// lines, and what `adi replay` rebuilds from the streams. Each secret must be found 0 times in each output; a
// failure prints the table (secret × output, lines or messages holding it) and where each hit sits, and keeps the
// outputs in $ADI_TEST_ARTIFACTS (or the system's tmp directory; always with ADI_TEST_KEEP_ARTIFACTS=1).
// Positive controls make sure the pipeline did its job meanwhile: the HTTP exchanges are logged (method, path,
// status, both ends, and again by replay), the logins are classified (postgres, redis, mysql, nats, amqp), the
// processes are inventoried with their command lines; a pipeline that logs nothing cannot pass.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { ADI, killAll, startAdi } from "../../cli/test/adi-process.ts";
import type { AdiRun } from "../../cli/test/adi-process.ts";
import { createMariaDbUser, createRabbitUser, startNatsWithUser, startPasswordPostgres, startRedisWithPassword } from "../support/login-servers.ts";
import type { LoginServer } from "../support/login-servers.ts";
import { freePort, NatsServerFixture, waitForPort } from "../support/nats-server.ts";
import {
  base62,
  countHits,
  githubToken,
  jwt,
  leakReport,
  lineHaystacks,
  mysqlGreetingNonce,
  mysqlNativeScramble,
  neutralSecret,
  planted,
  plantedBytes,
  searchSecrets,
  streamHaystacks,
  stripeKey,
  yamlHaystacks,
} from "../support/secrets.ts";
import type { Haystack, Hit, PlantedSecret } from "../support/secrets.ts";
import { poll } from "../support/wait.ts";

const CLIENTS = fileURLToPath(new URL("../support/clients/", import.meta.url));
const RUN = randomBytes(4).toString("hex");
/** Only this run's processes are profiled (ADI_PROFILE_ALLOWED), whatever else runs on the machine. */
const PROFILE = `secrets-${RUN}`;

/** The table's columns: every output adi has. */
const OUTPUTS = ["OUTPUT_PATH", "ENV_OUTPUT_PATH", "SERVICE_MAP_PATH", "ADI_RAW", "ADI_DERIVED", "ADI_FACTS", "ADI_DEADLETTER", "other streams", "adi logs", "adi replay"] as const;
const STREAM_COLUMNS: Record<string, (typeof OUTPUTS)[number]> = { ADI_RAW: "ADI_RAW", ADI_DERIVED: "ADI_DERIVED", ADI_FACTS: "ADI_FACTS", ADI_DEADLETTER: "ADI_DEADLETTER" };

const b64 = (t: string) => Buffer.from(t).toString("base64");

/** Every value planted, by the name the client scripts read them under (secrets.json). */
function values() {
  return {
    // HTTP, between the opted-in client (secret-clients.mjs http) and server (secret-http-server.mjs)
    bearer: neutralSecret(),
    basic: neutralSecret(),
    proxy: neutralSecret(),
    cookie: neutralSecret(),
    setCookie: neutralSecret(),
    apiKey: neutralSecret(),
    session: neutralSecret(),
    signature: neutralSecret(),
    hubSignature: randomBytes(32).toString("hex"),
    authToken: neutralSecret(),
    folded: neutralSecret(),
    split: neutralSecret(),
    loginPassword: neutralSecret(),
    clientSecret: neutralSecret(),
    formPassword: neutralSecret(),
    queryToken: neutralSecret(),
    queryApiKey: neutralSecret(),
    accessToken: neutralSecret(),
    refreshToken: neutralSecret(),
    jwtNote: jwt(),
    githubInBody: githubToken(),
    stripeInBody: stripeKey(),
    // command lines (each also on the wire where the program sends it)
    curlUser: neutralSecret(),
    curlBearer: neutralSecret(),
    mysqlPassword: neutralSecret(),
    redisPassword: neutralSecret(),
    pgPassword: neutralSecret(),
    // environments
    envDbPassword: neutralSecret(),
    envJwt: jwt(),
    envGithub: githubToken(),
    envStripe: stripeKey(),
    envConn: neutralSecret(),
    envDsn: neutralSecret(),
    envSessionSigning: neutralSecret(),
    // logins whose password is only on the wire
    natsUser: `natsuser${RUN}`,
    natsPassword: neutralSecret(),
    amqpUser: `amqpuser${RUN}`,
    amqpPassword: neutralSecret(),
    // the first line of a protocol no rule knows, a key of a known shape: an unknown connection's first bytes
    // (31 + "\n": all within first_bytes_hex's 32)
    lineToken: `sk_live_${base62(23)}`,
    // adi's own password to its broker (NATS_PASSWORD)
    adiNatsPassword: neutralSecret(),
  };
}
type Values = ReturnType<typeof values>;

function catalogue(v: Values): PlantedSecret[] {
  const jwtParts = (t: string, what: string) => {
    const [, payload, signature] = t.split(".");
    return [
      { form: `${what} payload`, text: payload! },
      { form: `${what} signature`, text: signature! },
    ];
  };
  return [
    planted("http.authorization-bearer", "request header Authorization: Bearer", v.bearer),
    planted("http.authorization-basic", "request header Authorization: Basic base64(alice:…)", v.basic, [{ form: "basic credentials", text: b64(`alice:${v.basic}`) }]),
    planted("http.proxy-authorization", "request header Proxy-Authorization: Basic base64(proxyuser:…)", v.proxy, [{ form: "basic credentials", text: b64(`proxyuser:${v.proxy}`) }]),
    planted("http.cookie", "request header Cookie: theme=dark; sid=…; lang=en", v.cookie),
    planted("http.set-cookie", "response header Set-Cookie: sid=… (POST /login)", v.setCookie),
    planted("http.x-api-key", "request header X-Api-Key", v.apiKey),
    planted("http.x-session", "request header X-Session", v.session),
    planted("http.x-signature", "request header X-Signature", v.signature),
    planted("http.x-hub-signature-256", "request header X-Hub-Signature-256: sha256=<64 hex>", v.hubSignature),
    planted("http.x-auth-token", "request header X-Auth-Token", v.authToken),
    planted("http.authorization-folded", "request header Authorization: Bearer + obs-fold continuation line holding the token", v.folded),
    planted("http.authorization-split", "request header Authorization: Bearer, the token cut in two send calls 100 ms apart", v.split),
    planted("http.json-password", 'request body {"user":"u","password":…} (POST /login)', v.loginPassword),
    planted("http.json-nested-client_secret", 'request body {"a":{"b":[{"client_secret":…}]}}', v.clientSecret),
    planted("http.form-password", "request body username=u&password=… (form)", v.formPassword),
    planted("http.query-token", "URL query ?token=…", v.queryToken),
    planted("http.query-api_key", "URL query &api_key=…", v.queryApiKey),
    planted("http.response-access_token", 'response body {"access_token":…} (POST /login)', v.accessToken),
    planted("http.response-refresh_token", 'response body {"refresh_token":…} (POST /login)', v.refreshToken),
    planted("http.jwt-in-note", 'request body {"note":"eyJ…"} (JWT in a neutral field)', v.jwtNote, jwtParts(v.jwtNote, "jwt")),
    planted("http.ghp-in-text", "request body text/plain holding a ghp_ token", v.githubInBody),
    planted("http.sk_live-in-text", "request body text/plain holding an sk_live_ key", v.stripeInBody),
    planted("cmdline.curl-u", "argv curl -u curluser:… (and its Basic header on the wire)", v.curlUser, [{ form: "basic credentials", text: b64(`curluser:${v.curlUser}`) }]),
    planted("cmdline.curl-H-bearer", "argv curl -H 'Authorization: Bearer …' (and the header on the wire)", v.curlBearer),
    planted("cmdline.mysql-p", "argv mysql -p… (and the MariaDB login, mysql_native_password)", v.mysqlPassword),
    planted("cmdline.redis-cli-a", "argv redis-cli -a … (and AUTH on the wire)", v.redisPassword),
    planted("cmdline.psql-url", "argv psql postgresql://postgres:…@127.0.0.1 (and the cleartext PasswordMessage)", v.pgPassword),
    planted("env.DB_PASSWORD", "environment DB_PASSWORD", v.envDbPassword),
    planted("env.UPSTREAM-jwt", "environment UPSTREAM=<JWT> (neutral name)", v.envJwt, jwtParts(v.envJwt, "jwt")),
    planted("env.GITHUB-ghp", "environment GITHUB=ghp_…", v.envGithub),
    planted("env.STRIPE-sk_live", "environment STRIPE=sk_live_…", v.envStripe),
    planted("env.CONN-password", "environment CONN=Server=x;User Id=u;Password=…;", v.envConn),
    planted("env.DSN-userinfo", "environment DSN=postgres://app:…@db.internal:5432/app", v.envDsn),
    planted("env.SESSION_SIGNING", "environment SESSION_SIGNING", v.envSessionSigning),
    planted("login.nats-connect", 'NATS CONNECT {"user":…,"pass":…} (password only on the wire)', v.natsPassword),
    planted("login.amqp-plain", "AMQP PLAIN \\0user\\0password (password only on the wire)", v.amqpPassword),
    planted("unknown.first-line-sk_live", "first line of a protocol no rule knows: an sk_live_ key (an unknown connection's first bytes, hex)", v.lineToken),
    planted("adi.NATS_PASSWORD", "adi's own NATS_PASSWORD (its environment)", v.adiNatsPassword),
  ];
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end, stdout and stderr collected. */
function runToEnd(cmd: string, args: string[], env: Record<string, string>, timeoutMs = 20_000): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

type LogLine = Record<string, unknown>;

/** The traffic log's lines (JSON). */
function readLog(path: string): LogLine[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8").split("\n").filter((l) => l.startsWith("{")).flatMap((l) => {
    try {
      return [JSON.parse(l) as LogLine];
    } catch {
      return [];
    }
  });
}

/** What the exchanges with `path` (query cut) looked like in the log: "<side> <METHOD> <status>" per observing end. */
function exchangesOf(log: LogLine[], path: string): string[] {
  const requests = log.filter((l) => typeof l.method === "string" && String(l.url).split("?")[0] === path);
  return requests
    .map((r) => {
      const response = log.find((l) => l.exchange_id === r.exchange_id && l.status_code !== undefined);
      return `${String(r.side)} ${String(r.method)} ${response ? String(response.status_code) : "no response"}`;
    })
    .sort();
}

/** The protocols of the client-side connection lines to `port`. */
function protocolsTo(log: LogLine[], port: number): string[] {
  return [...new Set(log.filter((l) => l.event_type === "connection" && l.side === "client" && l.dest_port === port).map((l) => String(l.protocol)))].sort();
}

/** The HTTP exchanges the workload makes: path → method; every one answered 200, seen by client and server. */
const HTTP_EXCHANGES: Record<string, string> = {
  "/h/bearer": "GET",
  "/h/basic": "GET",
  "/h/proxy": "GET",
  "/h/cookie": "GET",
  "/h/api-key": "GET",
  "/h/session": "GET",
  "/h/signature": "GET",
  "/h/auth-token": "GET",
  "/hooks/github": "POST",
  "/h/folded": "GET",
  "/h/split": "GET",
  "/login": "POST",
  "/p/nested": "POST",
  "/p/form": "POST",
  "/search": "GET",
  "/p/note": "POST",
  "/p/text": "POST",
  "/c/basic": "GET",
  "/c/bearer": "GET",
  "/e/env": "GET",
};

describe("secrets stay hidden (issue 11): the whole pipeline with ADI_CAPTURE_REDACT=on", () => {
  const v = values();
  const secrets = catalogue(v);
  const dir = mkdtempSync(join(tmpdir(), "adi-secrets-"));
  const paths = { OUTPUT_PATH: join(dir, "traffic.log"), ENV_OUTPUT_PATH: join(dir, "env.yaml"), SERVICE_MAP_PATH: join(dir, "service-map.yaml") };
  const servers: LoginServer[] = [];
  const children: ReturnType<typeof spawn>[] = [];
  let broker: NatsServerFixture | undefined;
  let adi: AdiRun | undefined;
  const ports = { web: 0, line: 0, pg: 0, redis: 0, nats: 0 };
  const ran: Record<string, Ran> = {};
  let httpStatuses: Record<string, number> = {};
  let log: LogLine[] = [];
  let envDocs: Record<string, unknown>[] = [];
  let streamMessages: Record<string, number> = {};
  let hits: Hit[] = [];
  let adiExit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let replayed: Ran | undefined;
  let replayLog: LogLine[] = [];
  let mysqlNonce: Buffer | undefined;
  let rawTexts: string[] = [];

  beforeAll(async () => {
    const started = Date.now();
    const mysqlUser = `adi_sec_${RUN}`;
    // adi's broker asks for a password too: adi's own secret, which must not reach its logs either.
    broker = await NatsServerFixture.start({ args: ["--user", "adi", "--pass", v.adiNatsPassword] });
    const adiEnv = {
      NATS_URL: broker.url,
      NATS_USER: "adi",
      NATS_PASSWORD: v.adiNatsPassword,
      ADI_HOST: `secrets${RUN}`,
      ADI_DATA_DIR: join(dir, "data"),
      ...paths,
      ADI_CAPTURE_REDACT: "on",
      ADI_PROFILE_ALLOWED: PROFILE,
      ENV_OUTPUT_ALL: "true", // every opted-in process in the inventory: the shells holding secrets in argv too
      LOG_LEVEL: "debug",
      ADI_FLUSH_INTERVAL_MS: "20",
      ...(process.env.ADI_TEST_CAPTURE_HOOKS ? { ADI_CAPTURE_HOOKS: process.env.ADI_TEST_CAPTURE_HOOKS } : {}),
    };
    const up = startAdi(ADI, ["up"], adiEnv);
    adi = up;
    const adiReady = up.waitForLog("ready", 60_000);
    adiReady.catch(() => undefined); // awaited below, once the servers are up
    const starting = await Promise.allSettled([
      startPasswordPostgres(v.pgPassword),
      startRedisWithPassword(v.redisPassword),
      startNatsWithUser(v.natsUser, v.natsPassword),
      createMariaDbUser(mysqlUser, v.mysqlPassword),
      createRabbitUser(v.amqpUser, v.amqpPassword),
    ]);
    for (const r of starting) if (r.status === "fulfilled") servers.push(r.value);
    const failed = starting.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
    const [pg, redis, nats] = servers as [LoginServer, LoginServer, LoginServer];
    Object.assign(ports, { pg: pg.port, redis: redis.port, nats: nats.port, web: await freePort(), line: await freePort() });
    const secretsFile = join(dir, "secrets.json");
    writeFileSync(secretsFile, JSON.stringify(v), { mode: 0o600 });
    const home = join(dir, "home");
    mkdirSync(home);
    const optedIn = (name: string, extra: Record<string, string> = {}) => ({ PATH: process.env.PATH!, HOME: home, ADI_PROFILE: PROFILE, ADI_PROFILE_NAME: name, ...extra });
    await adiReady;

    // The workload, from its first byte under capture.
    const web = spawn(process.execPath, [join(CLIENTS, "secret-http-server.mjs"), String(ports.web), secretsFile, String(ports.line)], { env: optedIn("secret-web"), stdio: "ignore" });
    children.push(web);
    await waitForPort(ports.web);
    await waitForPort(ports.line);
    const url = `http://127.0.0.1:${ports.web}`;
    // `sh -c '…; sleep 1'`: the shell stays (no exec of the last command), opted in, with the secret in its argv as
    // written, whatever the program does with its own argv later (curl and the MariaDB client blank passwords); and
    // it lives long enough for the agent to read its /proc (environment), which a shell gone in a few ms escaped.
    const shell = (name: string, command: string, extra: Record<string, string> = {}) => runToEnd("sh", ["-c", `${command}; sleep 1`], optedIn(name, extra));
    const jobs: Record<string, Promise<Ran>> = {
      http: runToEnd(process.execPath, [join(CLIENTS, "secret-clients.mjs"), "http", `127.0.0.1:${ports.web}`, secretsFile], optedIn("secret-client")),
      curlBasic: shell("curl-basic", `curl -s -o /dev/null -w '%{http_code}' -u curluser:${v.curlUser} ${url}/c/basic`),
      curlBearer: shell("curl-bearer", `curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer ${v.curlBearer}' ${url}/c/bearer`),
      env: shell("secret-env", `curl -s -o /dev/null -w '%{http_code}' ${url}/e/env`, {
        DB_PASSWORD: v.envDbPassword,
        UPSTREAM: v.envJwt,
        GITHUB: v.envGithub,
        STRIPE: v.envStripe,
        CONN: `Server=x;User Id=u;Password=${v.envConn};`,
        DSN: `postgres://app:${v.envDsn}@db.internal:5432/app`,
        SESSION_SIGNING: v.envSessionSigning,
      }),
      mysql: shell("mysql-p", `mysql -h 127.0.0.1 -P 3306 -u ${mysqlUser} -p${v.mysqlPassword} -N -e 'SELECT 40 + 2'`),
      redis: shell("redis-cli-a", `redis-cli --no-auth-warning -h 127.0.0.1 -p ${ports.redis} -a ${v.redisPassword} PING`),
      psql: shell("psql-url", `psql 'postgresql://postgres:${v.pgPassword}@127.0.0.1:${ports.pg}/postgres?sslmode=disable' -Atc 'SELECT 40 + 2'`, { PGGSSENCMODE: "disable" }),
      nats: runToEnd(process.execPath, [join(CLIENTS, "secret-clients.mjs"), "nats", `nats://127.0.0.1:${ports.nats}`, secretsFile], optedIn("nats-login")),
      amqp: runToEnd(process.execPath, [join(CLIENTS, "secret-clients.mjs"), "amqp", "127.0.0.1:5672", secretsFile], optedIn("amqp-login")),
      line: runToEnd(process.execPath, [join(CLIENTS, "secret-clients.mjs"), "line", `127.0.0.1:${ports.line}`, secretsFile], optedIn("line-client")),
    };
    for (const [name, job] of Object.entries(jobs)) ran[name] = await job;
    httpStatuses = JSON.parse(ran.http!.stdout || "{}") as Record<string, number>;

    // Until the log holds every exchange from both ends and every login (or 25 s: the assertions then say what
    // is missing), then stop adi: capture flushes, the consumers catch up and write, SIGTERM exits 0.
    await poll(
      () => readLog(paths.OUTPUT_PATH),
      (l) =>
        Object.keys(HTTP_EXCHANGES).every((p) => exchangesOf(l, p).length >= 2) &&
        [ports.pg, ports.redis, 3306, ports.nats, 5672, ports.line].every((p) => protocolsTo(l, p).length > 0),
      25_000,
      500,
    );
    web.kill("SIGTERM");
    up.child.kill("SIGTERM");
    adiExit = await up.exited;
    // The outputs rebuilt from the streams: replay runs the classifier and mapper code again, on what capture stored.
    const replayDir = join(dir, "replay");
    replayed = await runToEnd(ADI, ["replay", "--out", replayDir], { PATH: process.env.PATH!, HOME: home, ...adiEnv }, 30_000);
    const replayFile = (p: string) => join(replayDir, basename(p));
    replayLog = readLog(replayFile(paths.OUTPUT_PATH));

    log = readLog(paths.OUTPUT_PATH);
    const envText = existsSync(paths.ENV_OUTPUT_PATH) ? readFileSync(paths.ENV_OUTPUT_PATH, "utf8") : "";
    envDocs = parseAllDocuments(envText).map((d) => d.toJS() as Record<string, unknown>).filter((d) => d !== null);
    const haystacks: Haystack[] = [
      ...lineHaystacks("OUTPUT_PATH", existsSync(paths.OUTPUT_PATH) ? readFileSync(paths.OUTPUT_PATH, "utf8") : ""),
      ...yamlHaystacks("ENV_OUTPUT_PATH", envText),
      ...yamlHaystacks("SERVICE_MAP_PATH", existsSync(paths.SERVICE_MAP_PATH) ? readFileSync(paths.SERVICE_MAP_PATH, "utf8") : ""),
      ...lineHaystacks("adi logs", up.stdout()).map((h) => ({ ...h, where: `stdout ${h.where}` })),
      ...lineHaystacks("adi logs", up.stderr()).map((h) => ({ ...h, where: `stderr ${h.where}` })),
      ...lineHaystacks("adi logs", replayed.stdout).map((h) => ({ ...h, where: `replay stdout ${h.where}` })),
      ...lineHaystacks("adi logs", replayed.stderr).map((h) => ({ ...h, where: `replay stderr ${h.where}` })),
      ...lineHaystacks("adi replay", existsSync(replayFile(paths.OUTPUT_PATH)) ? readFileSync(replayFile(paths.OUTPUT_PATH), "utf8") : "").map((h) => ({ ...h, where: `traffic log ${h.where}` })),
      ...yamlHaystacks("adi replay", existsSync(replayFile(paths.ENV_OUTPUT_PATH)) ? readFileSync(replayFile(paths.ENV_OUTPUT_PATH), "utf8") : "").map((h) => ({ ...h, where: `environment inventory ${h.where}` })),
      ...yamlHaystacks("adi replay", existsSync(replayFile(paths.SERVICE_MAP_PATH)) ? readFileSync(replayFile(paths.SERVICE_MAP_PATH), "utf8") : "").map((h) => ({ ...h, where: `service map ${h.where}` })),
    ];
    const nc = await connect({ servers: broker.url, user: "adi", pass: v.adiNatsPassword });
    try {
      const streams = await streamHaystacks(nc, (stream) => STREAM_COLUMNS[stream] ?? "other streams");
      haystacks.push(...streams.haystacks);
      streamMessages = streams.messages;
    } finally {
      await nc.close();
    }
    // The MariaDB login sends no password, a proof made with the greeting's nonce: computed here from the greeting
    // the client received (ADI_RAW), and searched for like the other secrets.
    const greeting = haystacks.find((h) => h.output === "ADI_RAW" && / ingress .*remote 127\.0\.0\.1:3306\)/.test(h.where));
    mysqlNonce = greeting ? mysqlGreetingNonce(Buffer.from(greeting.text, "latin1")) : undefined;
    if (mysqlNonce) secrets.push(plantedBytes("login.mysql-native-proof", "MariaDB login: the client's mysql_native_password proof (with the greeting's nonce, it checks a password guess offline)", mysqlNativeScramble(v.mysqlPassword, mysqlNonce)));
    rawTexts = haystacks.filter((h) => h.output === "ADI_RAW").map((h) => h.text);
    hits = searchSecrets(secrets, haystacks);
    const report = leakReport(secrets, OUTPUTS, hits);
    let kept = "";
    if (hits.length > 0 || process.env.ADI_TEST_KEEP_ARTIFACTS === "1") {
      // What a reader of the failure needs: the outputs, adi's logs, every stream message as searched, the report.
      const artifacts = join(process.env.ADI_TEST_ARTIFACTS ?? tmpdir(), `adi-secrets-${RUN}`);
      mkdirSync(artifacts, { recursive: true });
      for (const p of Object.values(paths)) if (existsSync(p)) cpSync(p, join(artifacts, basename(p)));
      writeFileSync(join(artifacts, "adi.stdout"), up.stdout());
      writeFileSync(join(artifacts, "adi.stderr"), up.stderr());
      if (existsSync(replayDir)) cpSync(replayDir, join(artifacts, "replay"), { recursive: true });
      const streamColumns: readonly string[] = [...Object.values(STREAM_COLUMNS), "other streams"];
      const streamed = haystacks.filter((h) => streamColumns.includes(h.output));
      writeFileSync(join(artifacts, "streams.jsonl"), streamed.map((h) => JSON.stringify({ output: h.output, where: h.where, text: h.text })).join("\n") + "\n");
      writeFileSync(join(artifacts, "report.txt"), report + "\n");
      kept = `; outputs, logs and stream messages kept in ${artifacts}`;
    }
    console.log(`secrets e2e: workload and collection took ${Date.now() - started} ms; stream messages ${JSON.stringify(streamMessages)}${kept}\n${report}`);
  }, 110_000);

  afterAll(async () => {
    for (const c of children) c.kill("SIGKILL");
    if (adi) {
      adi.child.kill("SIGKILL");
      killAll(adi.marker);
    }
    await Promise.allSettled(servers.map((s) => s.stop()));
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("ran the workload: every HTTP request answered 200, every login and command succeeded, adi exited 0", () => {
    expect(httpStatuses).toEqual(Object.fromEntries(Object.entries(HTTP_EXCHANGES).filter(([p]) => !p.startsWith("/c/") && !p.startsWith("/e/")).map(([p]) => [p, 200])));
    const outcome = Object.fromEntries(Object.entries(ran).filter(([name]) => name !== "http").map(([name, r]) => [name, `${r.code} ${r.stdout.trim()}`]));
    expect(outcome, JSON.stringify(Object.fromEntries(Object.entries(ran).map(([n, r]) => [n, r.stderr.slice(-300)])))).toEqual({
      curlBasic: "0 200",
      curlBearer: "0 200",
      env: "0 200",
      mysql: "0 42",
      redis: "0 PONG",
      psql: "0 42",
      nats: "0 ",
      amqp: "0 ",
      line: "0 ",
    });
    expect(adiExit).toEqual({ code: 0, signal: null });
    expect(replayed?.code, replayed?.stderr).toBe(0);
  });

  it("logged every HTTP exchange from both ends with its method, path and status (query values kept out)", () => {
    const seen = Object.fromEntries(Object.keys(HTTP_EXCHANGES).map((p) => [p, exchangesOf(log, p)]));
    expect(seen).toEqual(Object.fromEntries(Object.entries(HTTP_EXCHANGES).map(([p, method]) => [p, [`client ${method} 200`, `server ${method} 200`]])));
    const search = log.filter((l) => typeof l.url === "string" && String(l.url).startsWith("/search?")).map((l) => String(l.url));
    expect(search).toHaveLength(2);
    for (const u of search) expect(u).toMatch(/^\/search\?token=[^&]+&api_key=[^&]+&q=shoes$/);
    // adi replay rebuilt the same exchanges from the streams
    expect(Object.fromEntries(Object.keys(HTTP_EXCHANGES).map((p) => [p, exchangesOf(replayLog, p)]))).toEqual(seen);
  });

  it("classified every login's connection (postgres, redis, mysql, nats, amqp), and logged the unknown one with its first bytes", () => {
    expect({
      postgres: protocolsTo(log, ports.pg),
      redis: protocolsTo(log, ports.redis),
      mysql: protocolsTo(log, 3306),
      nats: protocolsTo(log, ports.nats),
      amqp: protocolsTo(log, 5672),
      line: protocolsTo(log, ports.line),
    }).toEqual({ postgres: ["postgres"], redis: ["redis"], mysql: ["mysql"], nats: ["nats"], amqp: ["amqp"], line: ["unknown"] });
    // the MariaDB greeting was captured, so the client's proof is among the secrets searched
    expect(mysqlNonce?.length, "no MariaDB greeting in ADI_RAW: the native password proof cannot be searched").toBe(20);
    // the field the token would leak through is there (hex of what the client sent first)
    const unknown = log.filter((l) => l.event_type === "connection" && l.side === "client" && l.dest_port === ports.line);
    expect(unknown.map((l) => typeof l.first_bytes_hex === "string" && /^[0-9a-f]{2,64}$/.test(l.first_bytes_hex))).toEqual([true]);
  });

  it("inventoried the opted-in processes (environments listed, command lines kept around what was hidden) and filled every stream", () => {
    const byName = (name: string) => envDocs.filter((d) => d.adi_profile_name === name);
    // The shell and its curl both carry the environment; a process gone before /proc was read has none (its error
    // says so), so at least one of them lists it.
    const envNames = byName("secret-env").map((d) => Object.keys((d.adi_profile_env ?? {}) as Record<string, string>));
    expect(envNames.some((names) => ["DB_PASSWORD", "UPSTREAM", "GITHUB", "STRIPE", "CONN", "DSN", "SESSION_SIGNING"].every((n) => names.includes(n))), JSON.stringify(envNames)).toBe(true);
    for (const name of ["curl-basic", "curl-bearer", "mysql-p", "redis-cli-a", "psql-url", "secret-web", "secret-client", "nats-login", "amqp-login", "line-client"]) {
      expect(byName(name).length, name).toBeGreaterThan(0);
    }
    // Each secret-bearing command line is there, the words around the secret kept: redaction, not deletion.
    const around: Record<string, string[]> = {
      "curl-basic": ["curl -s -o /dev/null", " -u ", `/c/basic`],
      "curl-bearer": ["curl -s -o /dev/null", " -H ", `/c/bearer`],
      "mysql-p": ["mysql -h 127.0.0.1 -P 3306 -u adi_sec_", "SELECT 40 + 2"],
      "redis-cli-a": [`redis-cli --no-auth-warning -h 127.0.0.1 -p ${ports.redis} -a `, " PING"],
      "psql-url": ["psql ", `@127.0.0.1:${ports.pg}/postgres`, "SELECT 40 + 2"],
    };
    const kept = Object.fromEntries(
      Object.entries(around).map(([name, words]) => [name, byName(name).some((d) => words.every((w) => String(d.adi_profile_cmdline).includes(w)))]),
    );
    expect(kept, JSON.stringify(Object.keys(around).flatMap((n) => byName(n).map((d) => d.adi_profile_cmdline)))).toEqual(Object.fromEntries(Object.keys(around).map((n) => [n, true])));
    expect(streamMessages.ADI_RAW).toBeGreaterThan(0);
    // ADI_RAW holds the traffic itself (masked, not dropped): every request line, from both ends
    const rawRequestLines = Object.fromEntries(Object.entries(HTTP_EXCHANGES).map(([p, method]) => [p, rawTexts.filter((t) => t.startsWith(`${method} ${p}`)).length]));
    expect(rawRequestLines).toEqual(Object.fromEntries(Object.keys(HTTP_EXCHANGES).map((p) => [p, 2])));
    expect(streamMessages.ADI_DERIVED).toBeGreaterThan(0);
    expect(streamMessages.ADI_FACTS).toBeGreaterThan(0);
  });

  it.each(OUTPUTS)("no planted secret in %s", (output) => {
    const mine = hits.filter((h) => h.output === output);
    const counts = Object.fromEntries(secrets.map((s) => [s.id, mine.filter((h) => h.secret === s.id).length]));
    expect(counts, `\n${leakReport(secrets, [output], mine, 3)}`).toEqual(Object.fromEntries(secrets.map((s) => [s.id, 0])));
  });

  it("no planted secret in any output (the whole table)", () => {
    const zero = Object.fromEntries(secrets.map((s) => [s.id, Object.fromEntries(OUTPUTS.map((o) => [o, 0]))]));
    expect(countHits(secrets, OUTPUTS, hits), `\n${leakReport(secrets, OUTPUTS, hits)}`).toEqual(zero);
  });
});
