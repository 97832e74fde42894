// A JSON API on Node's http module: the server side of the HTTP end-to-end tests.
import { createServer } from "node:http";
import { gzipSync } from "node:zlib";
const port = Number(process.argv[2]);
createServer((req, res) => {
  let body = "";
  req.on("data", (d) => (body += d));
  req.on("end", () => {
    const json = (status, value, extra = {}) => {
      res.writeHead(status, { "Content-Type": "application/json", ...extra });
      res.end(JSON.stringify(value));
    };
    if (req.url === "/") return json(200, { service: "demo", ok: true });
    if (req.url === "/healthz") return json(200, { status: "ok" });
    if (req.url === "/echo" && req.method === "POST") return json(200, { echo: JSON.parse(body || "null") });
    if (req.url.startsWith("/items/")) return json(200, { id: Number(req.url.slice(7)), tags: ["a", "b"] });
    if (req.url === "/chunked") {
      res.writeHead(200, { "Content-Type": "application/json" }); // no length: Node sends it chunked
      res.write('{"parts":[');
      res.write('{"n":1},');
      return res.end('{"n":2}]}');
    }
    if (req.url === "/gzip") {
      const zipped = gzipSync(JSON.stringify({ compressed: true, size: 3 }));
      res.writeHead(200, { "Content-Type": "application/json", "Content-Encoding": "gzip", "Content-Length": zipped.length });
      return res.end(zipped);
    }
    json(404, { error: "not found" });
  });
}).listen(port, "127.0.0.1", () => process.stdout.write("listening\n"));
