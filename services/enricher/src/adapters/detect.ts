// Which engine listens on a socket. CONTAINERD_SOCKET may name Docker's, Podman's or containerd's socket (the
// reference profiler used one variable for all three), so ask it: Docker and Podman answer HTTP `GET /_ping`
// with "OK" (Podman adds a Libpod-API-Version header); containerd speaks only gRPC and answers Version.
import { request } from "node:http";
import type { ContainerEngine } from "../core/identity.ts";
import { ContainerdApi } from "./containerd-api.ts";

interface PingAnswer {
  readonly ok: boolean;
  readonly podman: boolean;
}

function ping(socketPath: string, timeoutMs: number): Promise<PingAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: "/_ping", method: "GET", timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ ok: res.statusCode === 200 && body.trim() === "OK", podman: "libpod-api-version" in res.headers }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`no HTTP answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

async function containerdVersion(socketPath: string, timeoutMs: number): Promise<string> {
  const api = new ContainerdApi(socketPath);
  try {
    const { version } = await api.call(api.version.Version, api.version, {}, null, timeoutMs);
    return version;
  } finally {
    api.close();
  }
}

export async function detectRuntime(socketPath: string, timeoutMs = 3_000): Promise<ContainerEngine> {
  let httpError: unknown;
  try {
    const answer = await ping(socketPath, timeoutMs);
    if (answer.ok) return answer.podman ? "podman" : "docker";
    httpError = new Error("/_ping did not answer OK");
  } catch (err) {
    // ENOENT/ECONNREFUSED: nothing there, and gRPC will not do better; report it now.
    const code = (err as { code?: string }).code;
    if (code === "ENOENT" || code === "ECONNREFUSED" || code === "EACCES") {
      throw new Error(`container runtime socket ${socketPath}: ${(err as Error).message}`, { cause: err });
    }
    httpError = err; // an HTTP/2-only (gRPC) server fails an HTTP/1.1 request: try containerd next
  }
  try {
    await containerdVersion(socketPath, timeoutMs);
    return "containerd";
  } catch (err) {
    throw new Error(
      `container runtime socket ${socketPath}: neither Docker/Podman (HTTP /_ping: ${(httpError as Error).message}) ` +
        `nor containerd (gRPC Version: ${(err as Error).message}) answered`,
      { cause: err },
    );
  }
}
