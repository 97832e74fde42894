// @adi/view: the live service map in a browser (issue 13, item 1). Its one surface: the service (serveView over
// folds that already run, startView for `adi view` alone) and the pure model the page draws (buildViewModel), which
// the tests and any other renderer can use.
export { listenView, serveView, startView } from "./main.ts";
export type { ListeningView, ServeOptions, StandaloneView, StartViewOptions, View, ViewSource } from "./main.ts";
export type { WindowFold } from "./server.ts";
export { CONTENT_SECURITY_POLICY } from "./server.ts";
export { buildViewModel, serviceNameOf } from "./core/view-model.ts";
export type { NodeKind, ViewConnection, ViewDetail, ViewEdge, ViewEndpoint, ViewModel, ViewNode, ViewProcess } from "./core/view-model.ts";
export { parseWindow, RECENT_WINDOW_MS, WINDOW_KINDS } from "./core/window.ts";
export type { ViewWindow, WindowKind } from "./core/window.ts";
