// The client side of the "secrets stay hidden" test, one login or request set per mode; the secrets come from the
// JSON file named by argv[4], never from argv or the environment, so they travel only on the wire.
//   node secret-clients.mjs http <host:port> <file>   every HTTP request form, each written as raw bytes on a connection
//                                                     of its own (so an obs-folded header goes out exactly as written);
//                                                     prints {"<path>": <status>, ...}
//   node secret-clients.mjs nats <nats url> <file>    CONNECT with user and password, one publish
//   node secret-clients.mjs amqp <host:port> <file>   AMQP 0-9-1 login (PLAIN), one message to a private queue
//   node secret-clients.mjs line <host:port> <file>   a protocol no rule knows, whose first line is a token: what an
//                                                     unknown connection's first_bytes_hex would show
import { readFileSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
const [mode, target, file] = process.argv.slice(2);
const s = JSON.parse(readFileSync(file, "utf8"));
const b64 = (t) => Buffer.from(t).toString("base64");

/**
 * One request per connection: its raw bytes out (an array: one write per element, 100 ms apart, so each is a send
 * call of its own), the whole response in, the status back.
 */
function exchange(host, port, bytes) {
  return new Promise((resolve, reject) => {
    const c = netConnect({ host, port }, async () => {
      const chunks = Array.isArray(bytes) ? bytes : [bytes];
      for (const [i, chunk] of chunks.entries()) {
        if (i > 0) await sleep(100);
        c.write(chunk);
      }
      c.end();
    });
    const got = [];
    c.on("data", (d) => got.push(d));
    c.on("error", reject);
    c.on("close", () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(Buffer.concat(got).toString("latin1"))?.[1] ?? 0)));
  });
}

function request(method, path, headers, body) {
  const head = [`${method} ${path} HTTP/1.1`, `Host: ${target}`, "User-Agent: secret-client/1", "Connection: close"];
  for (const [name, value] of headers) head.push(`${name}: ${value}`);
  if (body !== undefined) head.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return head.join("\r\n") + "\r\n\r\n" + (body ?? "");
}

/** `text` in two pieces, cut `at` characters into `secret`. */
function splitAt(text, secret, at) {
  const cut = text.indexOf(secret) + at;
  return [text.slice(0, cut), text.slice(cut)];
}

if (mode === "http") {
  const [host, port] = target.split(":");
  const json = ["Content-Type", "application/json"];
  const requests = {
    "/h/bearer": request("GET", "/h/bearer", [["Authorization", `Bearer ${s.bearer}`]]),
    "/h/basic": request("GET", "/h/basic", [["Authorization", `Basic ${b64(`alice:${s.basic}`)}`]]),
    "/h/proxy": request("GET", "/h/proxy", [["Proxy-Authorization", `Basic ${b64(`proxyuser:${s.proxy}`)}`]]),
    "/h/cookie": request("GET", "/h/cookie", [["Cookie", `theme=dark; sid=${s.cookie}; lang=en`]]),
    "/h/api-key": request("GET", "/h/api-key", [["X-Api-Key", s.apiKey]]),
    "/h/session": request("GET", "/h/session", [["X-Session", s.session]]),
    "/h/signature": request("GET", "/h/signature", [["X-Signature", s.signature]]),
    "/h/auth-token": request("GET", "/h/auth-token", [["X-Auth-Token", s.authToken]]),
    "/hooks/github": request("POST", "/hooks/github", [json, ["X-Hub-Signature-256", `sha256=${s.hubSignature}`]], JSON.stringify({ zen: "Keep it logically awesome." })),
    // obs-fold: the credential on a continuation line of its own
    "/h/folded": request("GET", "/h/folded", [["X-Trace", "1"], ["Authorization", `Bearer\r\n ${s.folded}`]]),
    // the token cut in two send calls: a mask applied per call must still hide both halves
    "/h/split": splitAt(request("GET", "/h/split", [["Authorization", `Bearer ${s.split}`]]), s.split, 12),
    "/login": request("POST", "/login", [json], JSON.stringify({ user: "u", password: s.loginPassword })),
    "/p/nested": request("POST", "/p/nested", [json], JSON.stringify({ a: { b: [{ client_secret: s.clientSecret }] } })),
    "/p/form": request("POST", "/p/form", [["Content-Type", "application/x-www-form-urlencoded"]], `username=u&password=${s.formPassword}`),
    "/search": request("GET", `/search?token=${s.queryToken}&api_key=${s.queryApiKey}&q=shoes`, []),
    "/p/note": request("POST", "/p/note", [json], JSON.stringify({ note: s.jwtNote })),
    "/p/text": request("POST", "/p/text", [["Content-Type", "text/plain"]], `deploy with ${s.githubInBody} then charge with ${s.stripeInBody}\n`),
  };
  const statuses = {};
  for (const [path, bytes] of Object.entries(requests)) statuses[path] = await exchange(host, Number(port), bytes);
  process.stdout.write(JSON.stringify(statuses) + "\n");
} else if (mode === "nats") {
  const { connect } = await import("@nats-io/transport-node");
  const nc = await connect({ servers: target, user: s.natsUser, pass: s.natsPassword });
  nc.publish("secrets.hello", JSON.stringify({ hello: "nats" }));
  await nc.flush();
  await nc.close();
} else if (mode === "amqp") {
  const { default: amqp } = await import("amqplib");
  const [hostname, port] = target.split(":");
  const conn = await amqp.connect({ protocol: "amqp", hostname, port: Number(port), username: s.amqpUser, password: s.amqpPassword, vhost: "/" });
  const ch = await conn.createChannel();
  const q = await ch.assertQueue("", { exclusive: true });
  ch.sendToQueue(q.queue, Buffer.from(JSON.stringify({ hello: "amqp" })));
  await ch.close();
  await conn.close();
} else if (mode === "line") {
  const [host, port] = target.split(":");
  await new Promise((resolve, reject) => {
    const c = netConnect({ host, port: Number(port) }, () => c.write(`${s.lineToken}\n`));
    c.on("data", () => c.end());
    c.on("error", reject);
    c.on("close", resolve);
  });
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
