// An HTTP server whose response bodies are many res.write() calls corked into one writev(2): /length with a
// Content-Length (one iovec per write), /chunked without (Node frames each write as a chunk: four iovecs each).
// Prints "listening" when it accepts connections. argv: port, writes per response (default 120).
import { createServer } from "node:http";

const port = Number(process.argv[2]);
const writes = Number(process.argv[3] ?? 120);
/** The i-th write of a body; the tests build the expected body with the same formula. */
const part = (i) => `{"part":${i},"pad":"${"x".repeat(i % 23)}"}\n`;

createServer((req, res) => {
  const parts = Array.from({ length: writes }, (_, i) => part(i));
  const headers = { "Content-Type": "application/x-ndjson" };
  if (req.url === "/length") headers["Content-Length"] = Buffer.byteLength(parts.join(""));
  res.writeHead(200, headers);
  res.cork();
  for (const p of parts) res.write(p);
  process.nextTick(() => {
    res.uncork();
    res.end();
  });
}).listen(port, "127.0.0.1", () => process.stdout.write("listening\n"));
