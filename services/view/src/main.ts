// The view as a service: serveView puts the page in front of folds that already run, listenView listens first and
// is given them once they run (`adi up`, `adi demo`: the in-process mapper's outputs and enricher's inventory, the
// address taken before any consumer starts); startView runs those folds itself for `adi view` alone,
// following ADI_FACTS and ADI_DERIVED as the mapper does (startMapper without files) and the process facts into an
// EnvInventory as the enricher does, so the page shows exactly what the files would.
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { startMapper } from "@adi/mapper";
import type { ServiceMap } from "@adi/mapper";
import { EnvInventory } from "@adi/enricher";
import { adiError } from "@adi/shared";
import type { AdiConfig, ListenAddress } from "@adi/shared";
import { followStream } from "@adi/shared/nats";
import { decodeFact, FACTS_STREAM, factsFilter } from "@adi/shared/wire";
import type { ProcessFact } from "@adi/shared/wire";
import { RedactionPolicy } from "@adi/shared/redaction";
import { startViewServer } from "./server.ts";
import type { WindowFold } from "./server.ts";

/** The folds the page is built from: MapperOutputs and EnvInventory (or anything with their reading surface). */
export interface ViewSource {
  outputs: { readonly version: number; serviceMap(): ServiceMap };
  inventory: { readonly version: number; processes(): ProcessFact[] };
}

export interface ServeOptions {
  /** Where to listen (cfg.viewAddr); port 0: any free port. */
  addr: ListenAddress;
  log: Logger;
  /** Computes the other windows (the CLI's foldStreams); without it, only the live map is offered. */
  windowFold?: WindowFold;
  /** How often the folds' versions are compared (the live updates' debounce), ms. Default 1000. */
  pollMs?: number;
}

export interface View {
  /** http://127.0.0.1:8090/ as bound. */
  url: string;
  /** Stops serving (open event streams are ended). */
  close(): Promise<void>;
}

/** A view that listens before its folds exist: `adi up` and `adi demo` take the address before any consumer starts. */
export interface ListeningView extends View {
  /**
   * Puts the page in front of `source` (once; a second call is a bug and throws). Until then the live map is empty
   * (version 0, no nodes): the folds it would show are still starting. The other windows (windowFold) are served
   * from the first moment.
   */
  serve(source: ViewSource): void;
}

/**
 * Listens on `opts.addr` with no folds yet (ListeningView.serve gives them); resolves once it listens, having
 * logged `view listening` with its `url`. Rejects with AdiError ADI_ERR_CONFIG naming ADI_VIEW_ADDR when the
 * address cannot be listened on (in use, not ours, not an address of this host).
 */
export async function listenView(opts: ServeOptions): Promise<ListeningView> {
  const { addr, log } = opts;
  let source: ViewSource | null = null;
  const empty: ServiceMap = { generated_at: null, services: [] };
  try {
    const server = await startViewServer({
      addr,
      log,
      windowFold: opts.windowFold,
      pollMs: opts.pollMs,
      live: {
        // Both bump on every change and never go back: their sum moves whenever either moved.
        version: () => (source ? source.outputs.version + source.inventory.version : 0),
        map: () => (source ? source.outputs.serviceMap() : empty),
        processes: () => (source ? source.inventory.processes() : []),
      },
    });
    log.info({ url: server.url }, "view listening");
    return {
      url: server.url,
      close: () => server.close(),
      serve(s) {
        if (source) throw new Error("the view already serves its folds");
        source = s;
      },
    };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === "string" && LISTEN_ERRORS.has(code)) {
      throw adiError("ADI_ERR_CONFIG", `ADI_VIEW_ADDR="${formatAddr(addr)}": cannot listen there (${code}): set another host:port, or off`, err);
    }
    throw err;
  }
}

/**
 * Serves the view of `source` on `opts.addr` (listenView, then serve): resolves once it listens, having logged
 * `view listening` with its `url`. Rejects as listenView does.
 */
export async function serveView(source: ViewSource, opts: ServeOptions): Promise<View> {
  const view = await listenView(opts);
  view.serve(source);
  return { url: view.url, close: view.close };
}

/** What listen() fails with when the address is the problem (not a bug of ours). */
const LISTEN_ERRORS: ReadonlySet<string> = new Set(["EADDRINUSE", "EACCES", "EADDRNOTAVAIL", "ENOTFOUND", "EAI_AGAIN"]);

function formatAddr(a: ListenAddress): string {
  return `${a.host.includes(":") ? `[${a.host}]` : a.host}:${a.port}`;
}

export interface StartViewOptions {
  /** Aborts a start still waiting for the broker (SIGTERM while starting): startView rejects with its reason. */
  signal?: AbortSignal;
  windowFold?: WindowFold;
  pollMs?: number;
}

export interface StandaloneView extends View {
  /** Stops serving, then the folds' consumers. */
  stop(): Promise<void>;
}

/**
 * `adi view` alone: follows the streams into its own MapperOutputs (startMapper, files: false) and EnvInventory
 * (process facts, as the enricher takes them: ENV_OUTPUT_ALL and the redaction settings of `cfg`), then serves
 * them on cfg.viewAddr. Rejects with AdiError ADI_ERR_CONFIG when ADI_VIEW_ADDR is off or cannot be listened on,
 * and with the mapper's start errors (ADI_ERR_NOT_FOLLOWING after ADI_START_TIMEOUT).
 */
export async function startView(cfg: AdiConfig, nc: NatsConnection, log: Logger, opts: StartViewOptions = {}): Promise<StandaloneView> {
  if (!cfg.viewAddr) throw adiError("ADI_ERR_CONFIG", "ADI_VIEW_ADDR=off: adi view has nowhere to listen; set host:port, e.g. 127.0.0.1:8090");
  const mapper = await startMapper(cfg, nc, log.child({ component: "map" }), { signal: opts.signal, files: false });
  const inventory = new EnvInventory({ all: cfg.envOutputAll, redaction: RedactionPolicy.fromConfig(cfg) });
  const abort = new AbortController();
  const facts = followStream(
    nc,
    FACTS_STREAM,
    factsFilter("process"),
    (m) => {
      try {
        const fact = decodeFact(m.data);
        if (fact.type === "process") inventory.add(fact);
      } catch (err) {
        log.warn({ err: (err as Error).message, seq: m.seq }, "invalid process fact skipped");
      }
    },
    { signal: abort.signal, timeoutMs: cfg.startTimeoutMs, log },
  );
  // A stop during the start stops waiting for the facts too; once serving, only stop() does.
  const onStartAbort = () => abort.abort(opts.signal?.reason);
  if (opts.signal?.aborted) onStartAbort();
  opts.signal?.addEventListener("abort", onStartAbort, { once: true });
  const stopFolds = async () => {
    abort.abort();
    await facts.done.catch(() => undefined);
    await mapper.stop();
  };
  let view: View;
  try {
    await facts.ready;
    view = await serveView({ outputs: mapper.outputs, inventory }, { addr: cfg.viewAddr, log, windowFold: opts.windowFold, pollMs: opts.pollMs });
  } catch (err) {
    await stopFolds();
    throw err;
  } finally {
    opts.signal?.removeEventListener("abort", onStartAbort);
  }
  const following = facts.done.catch((err) => log.error({ err }, "view stopped following the process facts"));
  return {
    url: view.url,
    close: () => view.close(),
    async stop() {
      await view.close();
      abort.abort();
      await following;
      await mapper.stop();
    },
  };
}
