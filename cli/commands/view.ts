// `adi view`: the live service map in a browser, on ADI_VIEW_ADDR (default 127.0.0.1:8090). Alone, it follows the
// streams into folds of its own (@adi/view startView); inside `adi up` and `adi demo`, listenViewFor puts the page in
// front of the running mapper's and enricher's folds. Either way the other windows (last 5 minutes, since/until)
// are folded on request from the streams by foldStreams, as `adi replay` reads them.
import { adiError, formatFatal, isAdiError } from "@adi/shared";
import { listenView, startView } from "@adi/view";
import type { ListeningView, WindowFold } from "@adi/view";
import { isAbort } from "@adi/shared/nats";
import { foldStreams } from "../replay/replay.ts";
import { replayError } from "./replay.ts";
import { listenForStop, openRuntime } from "../runtime.ts";
import type { Runtime } from "../runtime.ts";

/**
 * A window of the streams as the view shows it: a fresh fold (classifier, mapper and inventory folds over ADI_FACTS
 * and ADI_RAW stored in [since, until]), nothing written. Its errors are the registry's (ADI_ERR_NO_STREAM,
 * ADI_ERR_NOT_FOLLOWING), as replay names them, so the page shows the line the CLI would print.
 */
export function windowFoldFor(rt: Pick<Runtime, "nc" | "cfg" | "log">): WindowFold {
  return async (since, until) => {
    let reading: string | null = null;
    try {
      const { fold } = await foldStreams(rt.nc, rt.cfg, { since, until, log: rt.log, onStream: (s) => (reading = s) });
      return { map: fold.serviceMap(), processes: fold.processes() };
    } catch (err) {
      const named = replayError(err, "(view)", reading, "the view");
      throw new Error(formatFatal(named).line, { cause: err });
    }
  };
}

/**
 * The view of a running pipeline (`adi up`, `adi demo`), listening on rt.cfg.viewAddr before any consumer starts
 * (as /metrics does: a taken address stops the start before a consumer joins a group and takes partitions from a
 * pipeline already running); logs `view listening` with its url. The caller gives it the mapper's and enricher's
 * folds once they run (ListeningView.serve). null when ADI_VIEW_ADDR is off. An address that cannot be listened on
 * is AdiError ADI_ERR_CONFIG (exit 2) when ADI_VIEW_ADDR was set (`explicit`, by default: it is in the
 * environment), and a warning when it is the default (another program on 8090 must not stop the pipeline, whose
 * job is the files: the view is a window on them); then null.
 */
export async function listenViewFor(rt: Runtime, opts: { explicit?: boolean } = {}): Promise<ListeningView | null> {
  if (!rt.cfg.viewAddr) return null;
  const explicit = opts.explicit ?? (process.env.ADI_VIEW_ADDR ?? "") !== "";
  try {
    return await listenView({ addr: rt.cfg.viewAddr, log: rt.log.child({ component: "view" }), windowFold: windowFoldFor(rt) });
  } catch (err) {
    if (explicit || !isAdiError(err)) throw err;
    rt.log.warn({ err: err.message }, "view not served: the default address cannot be bound (set ADI_VIEW_ADDR to host:port, or off)");
    return null;
  }
}

/** `adi view` alone, until SIGINT/SIGTERM. */
export async function runView(): Promise<void> {
  const signals = listenForStop();
  const starting = new AbortController();
  void signals.requested.then((signal) => starting.abort(new Error(`stopped by ${signal} while starting`)));
  const rt = await openRuntime(
    "view",
    (cfg) => {
      if (!cfg.viewAddr) throw adiError("ADI_ERR_CONFIG", "ADI_VIEW_ADDR=off: adi view has nowhere to listen; set host:port, e.g. 127.0.0.1:8090");
    },
    { attach: true, signal: starting.signal },
  ).catch((err: unknown) => {
    if (starting.signal.aborted && (err === starting.signal.reason || isAbort(err))) return null;
    throw err;
  });
  if (!rt) return;
  let view;
  try {
    view = await startView(rt.cfg, rt.nc, rt.log, { signal: starting.signal, windowFold: windowFoldFor(rt) });
  } catch (err) {
    await rt.close();
    if (starting.signal.aborted && (err === starting.signal.reason || isAbort(err))) return;
    throw err;
  }
  await signals.untilStopped(rt.log, async () => {
    await view.stop();
    await rt.close();
  });
}
