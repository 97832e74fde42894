// A keep-alive static file server (Content-Length, never chunked): GET /NAME answers the file DIR/NAME.
// Prints "listening". argv: port dir
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
const [port, dir] = [Number(process.argv[2]), process.argv[3]];
createServer((req, res) => {
  let body;
  try {
    body = readFileSync(join(dir, req.url.split("?")[0]));
  } catch {
    res.writeHead(404, { "Content-Length": 0 });
    return res.end();
  }
  res.writeHead(200, { "Content-Type": "application/json", "Content-Length": body.length });
  res.end(body);
}).listen(port, "127.0.0.1", () => process.stdout.write("listening\n"));
