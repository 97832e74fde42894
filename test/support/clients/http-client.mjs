// Node's fetch (undici) against the test server: GET, POST with JSON, a chunked and a gzip response.
const base = process.argv[2];
const get = async (path) => (await fetch(base + path)).json();
await get("/");
await fetch(base + "/echo", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ message: "hello" }) }).then((r) => r.json());
const chunked = await get("/chunked");
if (chunked.parts.length !== 2) process.exit(3);
const gz = await get("/gzip");
if (gz.compressed !== true) process.exit(3);
