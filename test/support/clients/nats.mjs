import { connect } from "@nats-io/transport-node";
const nc = await connect({ servers: process.argv[2] ?? "127.0.0.1:4222" });
nc.publish("adi.e2e.hello", JSON.stringify({ hello: "nats" }));
await nc.flush();
await nc.close();
