// The fingerprint functions, grouped as the Go tool's categories group their protocols (mail is not one of its
// categories: its rules say "unknown").
export * as caches from "./caches.ts";
export * as databases from "./databases.ts";
export * as mail from "./mail.ts";
export * as messaging from "./messaging.ts";
export * as web from "./web.ts";
