import pg from "pg";
const client = new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database: "postgres" });
await client.connect();
const r = await client.query("SELECT 1 + 1 AS two");
if (r.rows[0].two !== 2) process.exit(3);
await client.end();
