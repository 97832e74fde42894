// A keep-alive HTTP client that holds one connection open across a pause: it sends GET /before, then waits for a
// line on stdin, sends GET /after on the same socket, prints each status line and exits. Used to make a
// connection that is older than the capture agent (the kernel did not see it open).
import { connect } from "node:net";
import { createInterface } from "node:readline";
const [host, port] = [process.argv[2], Number(process.argv[3])];
const sock = connect(port, host);
let buffered = "";
const waitFor = (n) => new Promise((resolve) => {
  const check = () => {
    const parts = buffered.split("\r\n\r\n");
    if (parts.length > n) { sock.off("data", onData); resolve(); }
  };
  const onData = (d) => { buffered += d; check(); };
  sock.on("data", onData);
  check();
});
const get = (path) => sock.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: keep-alive\r\n\r\n`);
await new Promise((r) => sock.once("connect", r));
get("/before");
await waitFor(1);
process.stdout.write("sent-before\n");
const rl = createInterface({ input: process.stdin });
await new Promise((r) => rl.once("line", r));
get("/after");
await waitFor(2);
process.stdout.write("sent-after\n");
sock.end();
rl.close();
