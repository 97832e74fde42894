// A classifier in a process of its own, so a test can SIGKILL it (no stop, no checkpoint written at exit, a batch
// maybe in hand): configuration from the environment, pino lines on stdout, stops on SIGTERM.
import { loadConfig, createLogger } from "@adi/shared";
import { connectNats } from "@adi/shared/nats";
import { startClassifier } from "../../src/main.ts";

const cfg = loadConfig(process.env);
const log = createLogger("classifier-child", cfg.logLevel);
const nc = await connectNats({ servers: cfg.natsServers!, name: "classifier-child", log });
const classifier = await startClassifier(cfg, nc, log);
process.once("SIGTERM", () => {
  void (async () => {
    await classifier.stop();
    log.info({ counters: classifier.counters() }, "classifier child stopped");
    await nc.close();
    process.exit(0);
  })();
});
