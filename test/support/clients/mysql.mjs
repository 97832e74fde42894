import mysql from "mysql2/promise";
const conn = await mysql.createConnection({ host: "127.0.0.1", port: 3306, user: "root", password: "", database: "test" });
const [rows] = await conn.query("SELECT 1 + 1 AS two");
if (rows[0].two !== 2) process.exit(3);
await conn.end();
