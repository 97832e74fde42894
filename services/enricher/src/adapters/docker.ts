// Docker Engine API over its unix socket (dockerode). Podman's Docker-compatible socket answers the same calls,
// so the same adapter serves it; only the `runtime` recorded in each identity differs.
import Docker from "dockerode";
import { fromDockerInspect } from "../core/identity.ts";
import type { ContainerIdentity, DockerInspect } from "../core/identity.ts";
import { dockerEvent } from "../core/runtime-events.ts";
import type { DockerEventMessage } from "../core/runtime-events.ts";
import { inspectInOrder, keepStreaming, streamLost, withLog } from "./reconnect.ts";
import type { ContainerRuntime, RuntimeEvent, RuntimeLog, WatchOptions } from "./runtime-port.ts";

export const DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock";
const INSPECT_CONCURRENCY = 8;

export interface DockerRuntimeOptions {
  /** The socket path; default: DOCKER_HOST's unix:// path, else /var/run/docker.sock. */
  readonly socketPath?: string;
  /** "podman" when the socket is Podman's (detectRuntime tells); default "docker". */
  readonly runtime?: "docker" | "podman";
  /** Per-request timeout for list/inspect; the event stream has none. Default 10 s. */
  readonly timeoutMs?: number | undefined;
  /** Where watch() reports errors and reconnections its caller does not handle. */
  readonly log?: RuntimeLog | undefined;
}

/** DOCKER_HOST=unix:///path -> /path; unset -> the default socket; any other scheme is refused, not guessed. */
export function dockerSocketFromEnv(dockerHost = process.env.DOCKER_HOST): string {
  if (!dockerHost) return DEFAULT_DOCKER_SOCKET;
  if (dockerHost.startsWith("unix://")) return dockerHost.slice("unix://".length);
  throw new Error(`DOCKER_HOST=${dockerHost}: only unix:// sockets are supported`);
}

export class DockerRuntime implements ContainerRuntime {
  readonly kind: "docker" | "podman";
  readonly socketPath: string;
  readonly #log: RuntimeLog | undefined;
  readonly #docker: Docker;
  /** No timeout: dockerode's is a socket idle timeout, which would cut a quiet event stream. */
  readonly #events: Docker;

  constructor(options: DockerRuntimeOptions = {}) {
    this.kind = options.runtime ?? "docker";
    this.#log = options.log;
    this.socketPath = options.socketPath ?? dockerSocketFromEnv();
    this.#docker = new Docker({ socketPath: this.socketPath, timeout: options.timeoutMs ?? 10_000 });
    this.#events = new Docker({ socketPath: this.socketPath });
  }

  async list(): Promise<ContainerIdentity[]> {
    // Default listing = running and paused containers; each is then inspected for networks, pid and labels.
    const summaries = await this.#docker.listContainers();
    const out: ContainerIdentity[] = [];
    for (let i = 0; i < summaries.length; i += INSPECT_CONCURRENCY) {
      const batch = await Promise.all(summaries.slice(i, i + INSPECT_CONCURRENCY).map((s) => this.inspect(s.Id)));
      for (const identity of batch) if (identity) out.push(identity); // gone between list and inspect
    }
    return out;
  }

  async inspect(id: string): Promise<ContainerIdentity | null> {
    try {
      const info = await this.#docker.getContainer(id).inspect();
      return fromDockerInspect(info as unknown as DockerInspect, this.kind);
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return null;
      throw err;
    }
  }

  watch(onEvent: (event: RuntimeEvent) => void, given: WatchOptions = {}): () => void {
    const options = withLog(given, this.#log, `docker ${this.socketPath}`);
    const emit = inspectInOrder((id) => this.inspect(id), onEvent, options.onError);
    const handle = (message: DockerEventMessage) => {
      // The engine's own names (Podman: died, remove) through the one table; anything else is not lifecycle.
      const event = dockerEvent(this.kind, message);
      if (event) emit(event.action, event.id, null);
    };

    return keepStreaming(async (signal) => {
      // Filtered by type only: Podman matches an `event` filter against its own names, so asking for Docker's
      // `die` and `destroy` dropped every death and removal (issue 10). The table picks the events client-side.
      // Networks too: a container connected to or disconnected from one changes its addresses and gateways.
      const stream = (await this.#events.getEvents({
        filters: { type: ["container", "network"] },
        abortSignal: signal,
      } as Docker.GetEventsOptions)) as NodeJS.ReadableStream & { destroy(): void };
      signal.addEventListener("abort", () => stream.destroy(), { once: true });
      let buffered = "";
      stream.on("data", (chunk: Buffer) => {
        // One JSON object per line; a chunk may end mid-object.
        buffered += chunk.toString("utf8");
        let nl: number;
        while ((nl = buffered.indexOf("\n")) >= 0) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1);
          if (!line) continue;
          try {
            handle(JSON.parse(line) as DockerEventMessage);
          } catch (err) {
            options.onError?.(err);
          }
        }
      });
      const lost = streamLost(stream, signal, options.onError);
      return { lost };
    }, options);
  }

  close(): void {
    // dockerode keeps no connection between requests; streams are closed by their watch's stop().
  }
}
