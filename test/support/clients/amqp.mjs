import amqp from "amqplib";
const conn = await amqp.connect("amqp://guest:guest@127.0.0.1:5672");
const ch = await conn.createChannel();
const q = await ch.assertQueue("", { exclusive: true });
ch.sendToQueue(q.queue, Buffer.from(JSON.stringify({ hello: "amqp" })));
await ch.close();
await conn.close();
