// Issue 10, faults 4 and 5: text protocols seen mid-connection. POP3 and IMAP commands are theirs, not Redis's (a
// Redis inline command is one of Redis's commands with its arity, answered in a Redis reply), and a subscriber
// connected before the capture began is named from what its server sends (NATS ops, Redis pushes).
import { describe, expect, it } from "vitest";
import { assess, classifyConnection } from "../src/core/protocols/classify.ts";
import { redisInlineCommand, redisPush, respReplies, splitInlineArgs } from "../src/core/protocols/fingerprints/caches.ts";
import { imapCommand, pop3Command } from "../src/core/protocols/fingerprints/mail.ts";
import { natsServerOp } from "../src/core/protocols/fingerprints/messaging.ts";
import { fitsArity, redisArity } from "../src/core/protocols/fingerprints/redis-commands.ts";
import { pubsubMessage, pubsubPMessage, pubsubSubscribed, resp3Push } from "./fixtures/midstream-bytes.ts";

const b = (s: string): Buffer => Buffer.from(s, "latin1");
const verdict = (client: string | null, server: string | null, port = 40000) =>
  classifyConnection({ clientFirstBytes: client === null ? null : b(client), serverFirstBytes: server === null ? null : b(server), serverPort: port });

describe("POP3 and IMAP mid-connection are named pop3/imap, never redis (fault 4)", () => {
  it.each([
    ["POP3 AUTH PLAIN answered with a continuation", "AUTH PLAIN\r\n", "+ \r\n", 40000, "pop3", "pop3-command"],
    ["POP3 AUTH PLAIN answered with a continuation, on 110", "AUTH PLAIN\r\n", "+ \r\n", 110, "pop3", "pop3-command"],
    ["POP3 NOOP answered +OK", "NOOP\r\n", "+OK\r\n", 40000, "pop3", "pop3-command"],
    ["POP3 NOOP answered +OK, on 110", "NOOP\r\n", "+OK\r\n", 110, "pop3", "pop3-command"],
    ["IMAP AUTHENTICATE answered with a continuation, on 143", "a1 AUTHENTICATE PLAIN\r\n", "+ \r\n", 143, "imap", "imap-command"],
    ["IMAP AUTHENTICATE answered with a continuation", "a1 AUTHENTICATE PLAIN\r\n", "+ \r\n", 40000, "imap", "imap-command"],
  ])("%s", (_name, client, server, port, protocol, rule) => {
    const v = verdict(client, server, port);
    expect(v).toMatchObject({ protocol, category: "unknown", confidence: 90, evidence: { rule, fingerprint_match: true, port_match: port !== 40000 } });
  });

  it.each([
    ["USER bob", "+OK bob is welcome here"],
    ["PASS my secret phrase", "+OK Logged in."],
    ["PASS wrong", "-ERR [AUTH] Authentication failed."],
    ["STAT", "+OK 2 320"],
    ["LIST", "+OK 2 messages (320 octets)"],
    ["LIST 1", "+OK 1 120"],
    ["RETR 1", "+OK 120 octets"],
    ["DELE 2", "+OK message 2 deleted"],
    ["NOOP", "+OK"],
    ["RSET", "+OK maildrop has 2 messages"],
    ["QUIT", "+OK dewey POP3 server signing off"],
    ["TOP 1 10", "+OK"],
    ["UIDL", "+OK"],
    ["UIDL 1", "+OK 1 whqtswO00WBw418f9t5JxYwZ"],
    ["CAPA", "+OK Capability list follows"],
    ["AUTH", "+OK\r\nPLAIN\r\n."],
    ["AUTH PLAIN", "+ "],
    ["AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=", "+OK Logged in."],
    ["AUTH CRAM-MD5", "+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"],
    ["APOP mrose c4c9334bac560ecc979e58001b3e22fb", "+OK maildrop has 1 message (369 octets)"],
    ["STLS", "+OK Begin TLS negotiation"],
    ["retr 3", "-ERR no such message"],
  ])("POP3 %s answered %s is pop3", (command, answer) => {
    // An answer with text is also read as a greeting ("+OK <text>"): either POP3 rule names it.
    const v = verdict(`${command}\r\n`, `${answer}\r\n`);
    expect(v).toMatchObject({ protocol: "pop3", confidence: 90 });
    expect(["pop3-command", "pop3-greeting"]).toContain(v.evidence.rule);
    expect(pop3Command(b(`${command}\r\n`), b(`${answer}\r\n`)).match).toBe(true);
  });

  it.each([
    ["a1 CAPABILITY", "* CAPABILITY IMAP4rev1 AUTH=PLAIN"],
    ["a2 LOGIN bob secret", "a2 OK LOGIN completed"],
    ["a3 SELECT INBOX", "* 18 EXISTS"],
    ["A004 UID FETCH 1:* (FLAGS)", "* 1 FETCH (UID 4 FLAGS (\\Seen))"],
    ["tag5 NOOP", "tag5 OK NOOP completed"],
    ["a6 LOGIN {3}", "+ Ready for literal data"],
    ["a7 IDLE", "+ idling"],
    ["a8 LOGOUT", "* BYE IMAP4rev1 Server logging out"],
    ["a9 EXAMINE nope", "a9 NO [NONEXISTENT] Unknown mailbox"],
    ["x1 STATUS INBOX (MESSAGES)", "* STATUS INBOX (MESSAGES 231)"],
    ["b1 FETCH 1 garbage", "b1 BAD Invalid arguments"],
  ])("IMAP %s answered %s is imap", (command, answer) => {
    const v = verdict(`${command}\r\n`, `${answer}\r\n`);
    expect(v).toMatchObject({ protocol: "imap", confidence: 90 });
    expect(["imap-command", "imap-greeting"]).toContain(v.evidence.rule);
    expect(imapCommand(b(`${command}\r\n`), b(`${answer}\r\n`)).match).toBe(true);
  });

  it.each([
    ["a POP3 command the server did not answer +OK/-ERR", pop3Command(b("NOOP\r\n"), b("250 OK\r\n"))],
    ["a continuation to a command other than AUTH", pop3Command(b("STAT\r\n"), b("+ \r\n"))],
    ["RETR without a message number", pop3Command(b("RETR\r\n"), b("-ERR\r\n"))],
    ["RETR of a word", pop3Command(b("RETR x\r\n"), b("+OK\r\n"))],
    ["STAT with an argument", pop3Command(b("STAT 1\r\n"), b("+OK 1 2\r\n"))],
    ["APOP without a digest", pop3Command(b("APOP bob secret\r\n"), b("+OK\r\n"))],
    ["AUTH of a lower-case word (a Redis password, not a SASL mechanism)", pop3Command(b("AUTH s3cret\r\n"), b("+OK\r\n"))],
    ["a Redis SET", pop3Command(b("SET k v\r\n"), b("+OK\r\n"))],
    ["an IMAP command answered by another tag", imapCommand(b("a1 NOOP\r\n"), b("a2 OK done\r\n"))],
    ["an IMAP command answered in RESP", imapCommand(b("a1 NOOP\r\n"), b("*1\r\n$1\r\nx\r\n"))],
    ["an IMAP line without a command", imapCommand(b("a1 HELLO\r\n"), b("a1 OK\r\n"))],
    ["UID without its command", imapCommand(b("a1 UID LOGIN\r\n"), b("a1 OK\r\n"))],
    ["a tag with a '*'", imapCommand(b("a* NOOP\r\n"), b("* OK\r\n"))],
    ["a Redis inline line", imapCommand(b("SET k v\r\n"), b("+OK\r\n"))],
  ])("does not take %s for POP3/IMAP", (_name, fp) => {
    expect(fp.match).toBe(false);
  });

  it("waits for the server's answer to a POP3 or IMAP command, and for the rest of a line", () => {
    expect(pop3Command(b("NOOP\r\n"), null)).toMatchObject({ match: false, more: "reply" });
    expect(imapCommand(b("a1 NOOP\r\n"), null)).toMatchObject({ match: false, more: "reply" });
    expect(pop3Command(b("RET"), null)).toMatchObject({ match: false, more: "bytes" });
    expect(imapCommand(b("a1 NO"), null)).toMatchObject({ match: false, more: "bytes" });
    expect(assess({ clientFirstBytes: b("NOOP\r\n"), serverFirstBytes: null, serverPort: 110 }).pending).toBe(true);
    expect(assess({ clientFirstBytes: b("NOOP\r\n"), serverFirstBytes: b("+OK\r\n"), serverPort: 110 })).toMatchObject({ pending: false, verdict: { protocol: "pop3" } });
  });
});

describe("a Redis inline command is one of Redis's commands, with its arity, answered in a Redis reply (fault 4's kind)", () => {
  it("holds redis.io's commands with Redis's arity", () => {
    expect([redisArity("get"), redisArity("SET"), redisArity("auth"), redisArity("ping"), redisArity("HGETALL"), redisArity("sentinel")]).toEqual([2, -3, -2, -1, 2, -2]);
    expect([redisArity("JSON.GET"), redisArity("FT.SEARCH")]).toEqual([-1, -1]);
    for (const notRedis of ["NOOP", "STAT", "CAPA", "RETR", "USER", "PASS", "a1", "EHLO", "LOGIN", "constructor", "__proto__", "FOO.BAR"]) {
      expect(redisArity(notRedis), notRedis).toBeNull();
    }
    expect([fitsArity(2, 2), fitsArity(2, 3), fitsArity(-3, 3), fitsArity(-3, 5), fitsArity(-3, 2)]).toEqual([true, false, true, true, false]);
  });

  it("splits inline arguments as Redis does, quotes included", () => {
    expect(splitInlineArgs('SET "my key" \'a b\'  "x\\"y"')).toEqual(["SET", "my key", "a b", 'x"y']);
    expect(splitInlineArgs('SET "open')).toBeNull();
    expect(splitInlineArgs('SET "a"b')).toBeNull();
  });

  it.each([
    ["PING", "+PONG"],
    ["PING hello", "$5\r\nhello"],
    ["GET k", "$-1"],
    ["SET k v", "+OK"],
    ['SET "my key" "a value"', "+OK"],
    ["SET k v EX 10", "+OK"],
    ["DEL a b c", ":3"],
    ["AUTH s3cret", "+OK"],
    ["AUTH default s3cret", "-WRONGPASS invalid username-password pair or user is disabled."],
    ["INFO", "$5\r\n# Ser"],
    ["TYPE k", "+string"],
    ["json.get doc $", "$9\r\n[{\"a\":1}]"],
  ])("redis: %s answered %s", (line, reply) => {
    const fp = redisInlineCommand(b(`${line}\r\n`), b(`${reply}\r\n`));
    expect(fp.match, fp.detail).toBe(true);
    expect(verdict(`${line}\r\n`, `${reply}\r\n`)).toMatchObject({ protocol: "redis", confidence: 90, evidence: { rule: "redis-inline" } });
  });

  it.each([
    ["NOOP", "+OK", "is not a Redis command"],
    ["STAT", "+OK 2 320", "is not a Redis command"],
    ["a1 AUTHENTICATE PLAIN", "+ ", "is not a Redis command"],
    ["GET", "-ERR wrong number of arguments", "does not fit its arity"],
    ["GET a b", "$-1", "does not fit its arity"],
    ["SET k", "+OK", "does not fit its arity"],
    ["AUTH", "+OK", "does not fit its arity"],
    ["SELECT 1 2", "+OK", "does not fit its arity"],
    ["AUTH PLAIN", "+ ", "answered outside RESP"],
    ["AUTH PLAIN", "+\r\n+OK", "answered outside RESP"],
    ["PING", "+ PONG", "answered outside RESP"],
  ])("not redis: %s answered %s", (line, reply, why) => {
    const fp = redisInlineCommand(b(`${line}\r\n`), b(`${reply}\r\n`));
    expect(fp.match).toBe(false);
    expect(fp.detail).toContain(why);
    expect(verdict(`${line}\r\n`, `${reply}\r\n`).protocol).not.toBe("redis");
  });

  it("never reads a simple string starting with a space, or an empty one, as a Redis reply", () => {
    expect(["+ \r\n", "+\r\n", "+  OK\r\n", "+OK\r\n", "+PONG\r\n+OK\r\n"].map((r) => respReplies(b(r)))).toEqual(["invalid", "invalid", "invalid", "valid", "valid"]);
  });

  it("keeps Redis's own ports first: an inline AUTH answered +OK on 6379 is redis, on 110 pop3", () => {
    expect(verdict("AUTH PLAIN\r\n", "+OK\r\n", 6379)).toMatchObject({ protocol: "redis", confidence: 90 });
    expect(verdict("AUTH PLAIN\r\n", "+OK\r\n", 110)).toMatchObject({ protocol: "pop3", confidence: 90 });
    expect(verdict("QUIT\r\n", "+OK\r\n", 26379)).toMatchObject({ protocol: "redis", confidence: 90 });
  });
});

describe("a subscriber connected before the capture began is named from its server's bytes (fault 5)", () => {
  it.each([
    ["a server PING answered PONG (the named case)", "PING\r\n", "PONG\r\n", "PING answered PONG"],
    ["PING answered PONG, twice", "PING\r\nPING\r\n", "PONG\r\nPONG\r\n", "PING answered PONG"],
    ["PING, then MSG deliveries", "PING\r\nMSG demo.requests 1 2\r\nhi\r\nMSG demo.requests 1 0\r\n\r\n", null, "then MSG"],
    ["+OK, then a MSG", "+OK\r\nMSG a.b 7 _INBOX.x 5\r\nhello\r\n", null, "then MSG"],
    ["INFO, PING, PONG, then an HMSG", 'INFO {"server_id":"x"}\r\nPING\r\nPONG\r\nHMSG s 9 12 14\r\nNATS/1.0\r\n\r\nhi\r\n', null, "then MSG"],
    ["an -ERR, then a MSG", "-ERR 'Slow Consumer'\r\nMSG a 1 1\r\nx\r\n", null, "then MSG"],
    ["a MSG whose payload runs past the bytes captured", `MSG big 1 100000\r\n${"x".repeat(500)}`, null, "MSG delivery"],
  ])("nats: %s", (_name, server, client, detail) => {
    expect(natsServerOp(b(server), client === null ? null : b(client))).toMatchObject({ match: true, detail: expect.stringContaining(detail) });
    if (server.startsWith("INFO")) return; // the greeting rule names it first
    for (const port of [4222, 40123]) {
      const v = verdict(client, server, port);
      expect(v).toMatchObject({ protocol: "nats", category: "message_bus", confidence: 90, evidence: { rule: "nats-server-op", from: "server" } });
      expect(v.reason).toContain(detail);
    }
  });

  it.each([
    ["a PING answered by something more than PONG", "PING\r\n", "PONG\r\nhello\r\n"],
    ["an IRC PING with an argument", "PING :irc.example\r\n", "PONG :irc.example\r\n"],
    ["a PING answered by an IRC PONG", "PING\r\n", "PONG :x\r\n"],
    ["server ops without a MSG or a PING", "+OK\r\nPONG\r\n", "PONG\r\n"],
    ["a MSG after a line that is no NATS op", "hello\r\nMSG a 1 1\r\nx\r\n", null],
    ["a MSG whose count misses its CRLF, after a PING", "PING\r\nMSG a 1 3\r\nabcdef\r\n", null],
    ["an -ERR without quotes", "-ERR oops\r\nMSG a 1 1\r\nx\r\n", null],
    ["lines ended by a bare LF", "PING\nMSG a 1 1\nx\n", null],
  ])("not nats: %s", (_name, server, client) => {
    expect(natsServerOp(b(server), client === null ? null : b(client)).match).toBe(false);
  });

  it("waits for the client's PONG while it may come, and for an op being written", () => {
    expect(natsServerOp(b("PING\r\n"), null)).toMatchObject({ match: false, more: "reply" });
    expect(natsServerOp(b("PING\r\n"), b("PO"))).toMatchObject({ match: false, more: "reply" });
    expect(natsServerOp(b("PING\r\nMSG a 1"), b("PUB x 1\r\n"))).toMatchObject({ match: false, more: "bytes" });
    expect(assess({ clientFirstBytes: null, serverFirstBytes: b("PING\r\n"), serverPort: 40123 }).pending).toBe(true);
    expect(assess({ clientFirstBytes: b("PONG\r\n"), serverFirstBytes: b("PING\r\n"), serverPort: 40123 })).toMatchObject({ pending: false, verdict: { protocol: "nats" } });
  });

  it.each([
    ["message", pubsubMessage("news", "hello"), "pub/sub message"],
    ["two messages", Buffer.concat([pubsubMessage("news", "a"), pubsubMessage("news", "bb")]), "pub/sub message"],
    ["pmessage", pubsubPMessage("news.*", "news.eu", "hi"), "pub/sub pmessage"],
    ["smessage", pubsubMessage("orders", "{\"id\":1}", "smessage"), "pub/sub smessage"],
    ["subscribe confirmation, then a message", Buffer.concat([pubsubSubscribed("subscribe", "news", 1), pubsubMessage("news", "x")]), "pub/sub subscribe"],
    ["unsubscribe from nothing (null channel)", b("*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"), "pub/sub unsubscribe"],
    ["pong while subscribed", b("*2\r\n$4\r\npong\r\n$0\r\n\r\n"), "pub/sub pong"],
    ["RESP3 message push", resp3Push("message", "news", "hello"), "RESP3 push message"],
    ["RESP3 invalidate push", b(">2\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\nkey\r\n"), "RESP3 push invalidate"],
    ["a message whose payload is cut after it (the next one)", Buffer.concat([pubsubMessage("n", "x"), b("*3\r\n$7\r\nmess")]), "pub/sub message"],
  ])("redis: %s, the client silent, on any port", (_name, server, detail) => {
    expect(redisPush(server)).toMatchObject({ match: true, detail: `redis ${detail}` });
    for (const port of [6379, 40000]) {
      expect(classifyConnection({ clientFirstBytes: null, serverFirstBytes: server, serverPort: port })).toMatchObject({
        protocol: "redis", category: "cache", confidence: 90, evidence: { rule: "redis-push", from: "server" },
      });
    }
  });

  it.each([
    ["a bulk length that does not add up", b("*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$9\r\nhello\r\n")],
    ["a message with two elements", b("*2\r\n$7\r\nmessage\r\n$4\r\nnews\r\n")],
    ["a subscribe confirmation without its count", b("*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n$1\r\n1\r\n")],
    ["an array whose first bulk is another word", b("*3\r\n$7\r\nmassage\r\n$1\r\na\r\n$1\r\nb\r\n")],
    ["a client's RESP command", b("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")],
    ["invalidate as a RESP2 array", b("*2\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\nkey\r\n")],
    ["a push followed by text that is not RESP", Buffer.concat([pubsubMessage("n", "x"), b("hello\r\n")])],
    ["NATS MSG", b("MSG a 1 1\r\nx\r\n")],
  ])("not a redis push: %s", (_name, server) => {
    expect(redisPush(server).match).toBe(false);
  });

  it("waits for a push cut short", () => {
    const push = pubsubMessage("news", "hello");
    for (const n of [1, 3, 10, push.length - 1]) expect(redisPush(push.subarray(0, n)), `${n} bytes`).toMatchObject({ match: false, more: "bytes" });
  });
});
