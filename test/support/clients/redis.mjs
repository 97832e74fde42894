import Redis from "ioredis";
const redis = new Redis({ host: "127.0.0.1", port: 6379, lazyConnect: true, maxRetriesPerRequest: 1 });
await redis.connect();
await redis.set("adi:e2e", "1");
if ((await redis.get("adi:e2e")) !== "1") process.exit(3);
redis.disconnect();
