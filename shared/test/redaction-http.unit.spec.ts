// HTTP messages: headers, target, bodies and `raw` redacted alike, each category separately switchable.
import { describe, expect, it } from "vitest";
import { HttpExchangeSchema, type HttpExchange } from "../src/wire/derived.ts";
import { REDACTION_CATEGORIES, RedactionPolicy } from "../src/redaction/index.ts";

const p = RedactionPolicy.DEFAULT;
const JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";

describe("headers", () => {
  it("hides credential headers by name, in wire order, repeats kept", () => {
    expect(
      p.headers([
        ["Host", "api"],
        ["Authorization", "Bearer abc def"],
        ["X-Session", "s1"],
        ["X-Signature", "sig"],
        ["X-Hub-Signature-256", "sha256=ab12"],
        ["Cookie", "a=1"],
        ["cookie", "b=2"],
        ["Accept", "*/*"],
        ["Empty-Token", ""],
      ]),
    ).toEqual([
      ["Host", "api"],
      ["Authorization", "[REDACTED]"],
      ["X-Session", "[REDACTED]"],
      ["X-Signature", "[REDACTED]"],
      ["X-Hub-Signature-256", "[REDACTED]"],
      ["Cookie", "[REDACTED]"],
      ["cookie", "[REDACTED]"],
      ["Accept", "*/*"],
      ["Empty-Token", ""],
    ]);
  });

  it("applies the query and value rules to other headers", () => {
    expect(p.headers([["Location", "https://app/cb?code=1&access_token=zz"], ["X-Forwarded-Jwt", JWT], ["Referer", "https://u:pw@h/"]])).toEqual([
      ["Location", "https://app/cb?code=1&access_token=[REDACTED]"],
      ["X-Forwarded-Jwt", "[REDACTED]"],
      ["Referer", "https://u:[REDACTED]@h/"],
    ]);
  });

  it("hides a folded value whole (the parser joined its lines into one pair)", () => {
    expect(p.headers([["Authorization", "Basic dXNlcjpw dw=="]])).toEqual([["Authorization", "[REDACTED]"]]);
  });
});

describe("target", () => {
  it.each([
    ["/login?user=bob&token=abc123&next=/home", "/login?user=bob&token=[REDACTED]&next=/home"],
    ["/cb?access_token=a&id_token=b", "/cb?access_token=[REDACTED]&id_token=[REDACTED]"],
    ["/s3/o?X-Amz-Signature=abc&X-Amz-Date=1", "/s3/o?X-Amz-Signature=[REDACTED]&X-Amz-Date=1"],
    [`/reset/${JWT}`, "/reset/[REDACTED]"],
    ["/items?page=2&sort=asc", "/items?page=2&sort=asc"],
  ])("%s", (target, expected) => {
    expect(p.target(target)).toBe(expected);
  });
});

describe("bodies", () => {
  it("hides JSON fields with secret names at any depth, strings and numbers, structure and formatting kept", () => {
    const body = '{\n  "user": "bob",\n  "password": "hunter2",\n  "profile": {"pin": 1234, "age": 40, "auth": {"otp": 99, "method": "sms"}},\n  "keys": ["a", "b"],\n  "remember": true,\n  "token": null\n}';
    expect(p.body(body)).toBe(
      '{\n  "user": "bob",\n  "password": "[REDACTED]",\n  "profile": {"pin": 1234, "age": 40, "auth": {"otp": "[REDACTED]", "method": "[REDACTED]"}},\n  "keys": ["[REDACTED]", "[REDACTED]"],\n  "remember": true,\n  "token": null\n}',
    );
    expect(JSON.parse(p.body(body)!)).toMatchObject({ password: "[REDACTED]", remember: true, token: null });
  });

  it("hides access_token in a response body (RFC 6749 §5.1), keeps token_type", () => {
    expect(p.body('{"access_token":"ya29.a0AfH6","token_type":"Bearer","expires_in":3599,"refresh_token":"1//0g"}')).toBe(
      '{"access_token":"[REDACTED]","token_type":"Bearer","expires_in":3599,"refresh_token":"[REDACTED]"}',
    );
  });

  it("handles a JSON body cut by the capture limit, and JSON lines", () => {
    expect(p.body('{"user":"bob","password":"hunt')).toBe('{"user":"bob","password":"[REDACTED]"');
    expect(p.body('{"secret":1}\n{"secret":2}\n')).toBe('{"secret":"[REDACTED]"}\n{"secret":"[REDACTED]"}\n');
  });

  it("falls back to the text rules for invalid JSON", () => {
    expect(p.body('{"password": "x", oops}')).toBe('{"password": "[REDACTED]", oops}');
    expect(p.body(`not json, but a ${JWT} and password=x`)).toBe("not json, but a [REDACTED] and password=[REDACTED]");
  });

  it("hides form fields (application/x-www-form-urlencoded)", () => {
    expect(p.body("grant_type=password&username=bob&password=hunter2&client_secret=cs")).toBe("grant_type=password&username=bob&password=[REDACTED]&client_secret=[REDACTED]");
  });

  it("hides multipart fields by their part name", () => {
    const body = '--X\r\nContent-Disposition: form-data; name="password"\r\n\r\nhunter2\r\n--X--\r\n';
    expect(p.body(body)).toBe('--X\r\nContent-Disposition: form-data; name="password"\r\n\r\n[REDACTED]\r\n--X--\r\n');
  });

  it("hides the value of a name/value pair whose name is secret (JSON_PAIR_RULES: Kubernetes env, {Key, Value})", () => {
    expect(p.body('{"env":[{"name":"DB_PASSWORD","value":"s3"},{"name":"DB_HOST","value":"db"}]}')).toBe(
      '{"env":[{"name":"DB_PASSWORD","value":"[REDACTED]"},{"name":"DB_HOST","value":"db"}]}',
    );
    expect(p.body('[{"Value":"s3","Key":"api_token"},{"key":"region","value":"eu"},{"Name":"MYSQL_PWD","Value":1234}]')).toBe(
      // "key" is itself a secret name (an API key's usual field): its own value was hidden before the pair rule
      '[{"Value":"[REDACTED]","Key":"[REDACTED]"},{"key":"[REDACTED]","value":"eu"},{"Name":"MYSQL_PWD","Value":"[REDACTED]"}]',
    );
    expect(p.body('{"name":"DB_PASSWORD","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}}')).toBe('{"name":"DB_PASSWORD","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}}');
    expect(p.body('{"name":"PASSWORD","value":"cut')).toBe('{"name":"PASSWORD","value":"[REDACTED]"');
  });

  it("keeps null and empty bodies", () => {
    expect(p.body(null)).toBeNull();
    expect(p.body("")).toBe("");
  });
});

describe("raw (latin1 head and body)", () => {
  it("redacts the start line's target, header lines (folded continuation included) and the body like the parsed parts", () => {
    const raw = [
      "POST /login?token=abc&x=1 HTTP/1.1",
      "Host: h",
      "Authorization: Basic",
      "  dXNlcjpwdw==",
      "X-Hub-Signature-256: sha256=ab",
      "Content-Type: application/json",
      "",
      '{"password":"hunter2","user":"bob"}',
    ].join("\r\n");
    expect(p.raw(raw)).toBe(
      [
        "POST /login?token=[REDACTED]&x=1 HTTP/1.1",
        "Host: h",
        "Authorization: [REDACTED]",
        "  [REDACTED]",
        "X-Hub-Signature-256: [REDACTED]",
        "Content-Type: application/json",
        "",
        '{"password":"[REDACTED]","user":"bob"}',
      ].join("\r\n"),
    );
  });

  it("hides a credential line cut by the capture limit, and a chunked body by the text rules", () => {
    expect(p.raw("GET / HTTP/1.1\r\nCookie: sid=ab")).toBe("GET / HTTP/1.1\r\nCookie: [REDACTED]");
    expect(p.raw('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1c\r\n{"access_token":"tok","a":1}\r\n0\r\n\r\n')).toBe(
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1c\r\n{"access_token":"[REDACTED]","a":1}\r\n0\r\n\r\n',
    );
  });

  it("keeps a raw with nothing secret byte for byte, LF-only heads included", () => {
    const raw = "GET /items?page=2 HTTP/1.1\nHost: h\nAccept: */*\n\n";
    expect(p.raw(raw)).toBe(raw);
    expect(p.raw("")).toBe("");
  });
});

function exchange(): HttpExchange {
  const ts = "2026-11-30T10:00:00.000000000Z";
  const msg = (head: string, headers: [string, string][], body: string | null) => ({
    ts, end_ts: ts, version: "1.1", headers, body, body_size: body?.length ?? 0, body_truncated: false, body_binary: false,
    raw: `${head}\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join("")}\r\n${body ?? ""}`,
  });
  return HttpExchangeSchema.parse({
    v: 1, type: "http_exchange", host: "h", boot_id: "b", conn_id: "1", side: "client", pid: 1, start_ticks: 1,
    local: { ip: "10.0.0.1", port: 40000 }, remote: { ip: "10.0.0.2", port: 80 }, family: 4, transport: "tcp", seq: 0,
    client: { ip: "10.0.0.1", port: 40000 }, server: { ip: "10.0.0.2", port: 80 },
    request: { ...msg("POST /token?api_key=k HTTP/1.1", [["Authorization", "Bearer t"], ["Content-Type", "application/x-www-form-urlencoded"]], "client_secret=p&u=1"), method: "POST", target: "/token?api_key=k" },
    response: { ...msg("HTTP/1.1 200 OK", [["Set-Cookie", "sid=s; Path=/"]], '{"access_token":"a","n":1}'), status: 200, reason: "OK" },
    latency_ns: 1,
  });
}

describe("names the pre-check must not skip (issue 11)", () => {
  it("hides percent-encoded and \\u-escaped names in a whole request (the fast path sees the escapes)", () => {
    const base = exchange().request;
    const target = "/login?%70assword=X&pwd=Y";
    const body = '{"\\u0070assword":"X","user":"bob"}';
    const head = `POST ${target} HTTP/1.1\r\nContent-Type: application/json\r\n\r\n`;
    const out = p.request({ ...base, target, headers: [["Content-Type", "application/json"]], body, raw: head + body });
    expect(out.target).toBe("/login?%70assword=[REDACTED]&pwd=[REDACTED]");
    expect(out.body).toBe('{"\\u0070assword":"[REDACTED]","user":"bob"}');
    expect(out.raw).toBe(`POST /login?%70assword=[REDACTED]&pwd=[REDACTED] HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{"\\u0070assword":"[REDACTED]","user":"bob"}`);
  });

  it("hides Authentication-style and other issue headers, keeps the challenges", () => {
    expect(
      p.headers([["Authentication", "a"], ["X-Authentication", "b"], ["X_AUTHENTICATION", "c"], ["X-AccessToken", "d"], ["X-Csrftoken", "e"], ["X-Sessionid", "f"], ["X-Pass", "g"], ["WWW-Authenticate", 'Basic realm="x"'], ["Authentication-Info", "rspauth=1"]]),
    ).toEqual([
      ["Authentication", "[REDACTED]"], ["X-Authentication", "[REDACTED]"], ["X_AUTHENTICATION", "[REDACTED]"], ["X-AccessToken", "[REDACTED]"], ["X-Csrftoken", "[REDACTED]"],
      ["X-Sessionid", "[REDACTED]"], ["X-Pass", "[REDACTED]"], ["WWW-Authenticate", 'Basic realm="x"'], ["Authentication-Info", "rspauth=1"],
    ]);
  });

  it("hides pwd and passcode in query, form and JSON", () => {
    expect(p.target("/a?pwd=1&passcode=2&page=3")).toBe("/a?pwd=[REDACTED]&passcode=[REDACTED]&page=3");
    expect(p.body("user=bob&pwd=1")).toBe("user=bob&pwd=[REDACTED]");
    expect(p.body('{"pwd":"1","passcode":2,"cwd":"/x"}')).toBe('{"pwd":"[REDACTED]","passcode":"[REDACTED]","cwd":"/x"}');
  });
});

describe("exchange", () => {
  it("redacts request and response, headers, target, body and raw, and still validates", () => {
    const out = p.exchange(exchange());
    expect(out.request.target).toBe("/token?api_key=[REDACTED]");
    expect(out.request.headers).toEqual([["Authorization", "[REDACTED]"], ["Content-Type", "application/x-www-form-urlencoded"]]);
    expect(out.request.body).toBe("client_secret=[REDACTED]&u=1");
    expect(out.request.raw).toBe("POST /token?api_key=[REDACTED] HTTP/1.1\r\nAuthorization: [REDACTED]\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\nclient_secret=[REDACTED]&u=1");
    expect(out.response!.headers).toEqual([["Set-Cookie", "[REDACTED]"]]);
    expect(out.response!.body).toBe('{"access_token":"[REDACTED]","n":1}');
    expect(out.response!.raw).toBe('HTTP/1.1 200 OK\r\nSet-Cookie: [REDACTED]\r\n\r\n{"access_token":"[REDACTED]","n":1}');
    expect(HttpExchangeSchema.parse(out)).toEqual(out);
    expect(p.exchange(out)).toEqual(out);
  });

  it("returns the exchange itself when every HTTP category is off", () => {
    const ex = exchange();
    expect(new RedactionPolicy({ off: ["headers", "query", "body", "values"] }).exchange(ex)).toBe(ex);
    expect(RedactionPolicy.NONE.exchange(ex)).toBe(ex);
  });

  it.each([
    ["headers", (e: HttpExchange) => e.request.headers[0]![1], "Bearer t"],
    ["query", (e: HttpExchange) => e.request.target, "/token?api_key=k"],
    ["body", (e: HttpExchange) => e.request.body, "client_secret=p&u=1"],
  ] as const)("turns %s off alone", (category, pick, clear) => {
    const policy = new RedactionPolicy({ off: [category] });
    expect(pick(policy.exchange(exchange()))).toBe(clear);
    for (const other of REDACTION_CATEGORIES) expect(policy.enabled(other)).toBe(other !== category);
  });

  it("turns values off alone: a JWT in a non-secret header stays, secret names still hide", () => {
    const policy = new RedactionPolicy({ off: ["values"] });
    expect(policy.headers([["X-Id", JWT], ["X-Token", "t"]])).toEqual([["X-Id", JWT], ["X-Token", "[REDACTED]"]]);
  });
});
