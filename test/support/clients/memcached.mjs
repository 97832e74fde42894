import memjs from "memjs";
const mc = memjs.Client.create("127.0.0.1:11211", { retries: 0 });
await mc.set("adi-e2e", "1", { expires: 10 });
const { value } = await mc.get("adi-e2e");
if (value?.toString() !== "1") process.exit(3);
mc.close();
