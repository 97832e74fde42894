// The server side of the "secrets stay hidden" test: answers every request 200 with a small JSON body; POST /login
// answers with a session cookie (Set-Cookie) and an OAuth-style token pair in its body. The values come from the
// JSON file named by argv[3], not from argv or the environment, so they travel only on the wire.
// With argv[4], also a line server there (an unknown protocol: the client's first line is its token; "OK" back).
// insecureHTTPParser: accepts an obs-folded header (RFC 9112 §5.2), as lenient servers do, so that exchange completes.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { createServer as createTcpServer } from "node:net";
const port = Number(process.argv[2]);
const secrets = JSON.parse(readFileSync(process.argv[3], "utf8"));
createServer({ insecureHTTPParser: true }, (req, res) => {
  req.resume();
  req.on("end", () => {
    if (req.url === "/login") {
      res.writeHead(200, { "Content-Type": "application/json", "Set-Cookie": `sid=${secrets.setCookie}; Path=/; HttpOnly` });
      return res.end(JSON.stringify({ access_token: secrets.accessToken, refresh_token: secrets.refreshToken, token_type: "Bearer", expires_in: 3600 }));
    }
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ ok: true }));
  });
}).listen(port, "127.0.0.1", () => process.stdout.write("listening\n"));
if (process.argv[4]) {
  createTcpServer((socket) => {
    socket.on("data", () => socket.end("OK\n"));
    socket.on("error", () => undefined);
  }).listen(Number(process.argv[4]), "127.0.0.1");
}
