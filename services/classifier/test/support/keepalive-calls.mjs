// Keep-alive HTTP load for the restart tests: `conns` sockets kept open (an http.Agent with keepAlive), each making
// GET /items/<n> one after another (n unique across the run), until a line arrives on stdin; then it finishes the
// calls in flight, closes its sockets and prints `calls <N>`.
import { Agent, get } from "node:http";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
const [host, port, conns, pauseMs] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4] ?? 4), Number(process.argv[5] ?? 10)];
const agent = new Agent({ keepAlive: true, maxSockets: conns });
let n = 0;
let stopping = false;
const call = () =>
  new Promise((resolve, reject) => {
    const req = get({ host, port, path: `/items/${n++}`, agent }, (res) => {
      res.resume();
      res.on("end", resolve);
    });
    req.on("error", reject);
  });
const loops = Array.from({ length: conns }, async () => {
  while (!stopping) {
    await call();
    await sleep(pauseMs);
  }
});
const rl = createInterface({ input: process.stdin });
await new Promise((r) => rl.once("line", r));
stopping = true;
await Promise.all(loops);
agent.destroy();
rl.close();
process.stdout.write(`calls ${n}\n`);
