// gRPC clients for the few containerd services the enricher calls, from the hand-written protos in
// services/enricher/proto. One channel per socket, shared by all four services.
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import type { ContainerdContainer } from "../core/identity.ts";

export const DEFAULT_CONTAINERD_SOCKET = "/run/containerd/containerd.sock";
const PROTO_DIR = fileURLToPath(new URL("../../proto/", import.meta.url));

export interface ContainerdProcess {
  container_id: string;
  id: string;
  pid: number;
  status: string;
}

export interface Envelope {
  namespace: string;
  topic: string;
  event: { type_url: string; value: Buffer } | null;
}

type Callback<Res> = (err: grpc.ServiceError | null, res?: Res) => void;
type Unary<Req, Res> = (req: Req, md: grpc.Metadata, opts: grpc.CallOptions, cb: Callback<Res>) => grpc.ClientUnaryCall;

interface ContainersClient extends grpc.Client {
  List: Unary<{ filters: string[] }, { containers: ContainerdContainer[] }>;
  Get: Unary<{ id: string }, { container: ContainerdContainer | null }>;
}
interface TasksClient extends grpc.Client {
  List: Unary<{ filter: string }, { tasks: ContainerdProcess[] }>;
  Get: Unary<{ container_id: string }, { process: ContainerdProcess | null }>;
}
interface EventsClient extends grpc.Client {
  Subscribe(req: { filters: string[] }): grpc.ClientReadableStream<Envelope>;
}
interface VersionClient extends grpc.Client {
  Version: Unary<Record<string, never>, { version: string; revision: string }>;
}
type ClientCtor<T> = new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ClientOptions) => T;

let definitions: grpc.GrpcObject | undefined;
function services(): grpc.GrpcObject {
  definitions ??= grpc.loadPackageDefinition(
    protoLoader.loadSync(["containers.proto", "tasks.proto", "events.proto", "version.proto"], {
      includeDirs: [PROTO_DIR],
      keepCase: true, // field names as in containerd's protos (container_id), which core/identity.ts expects
      longs: Number,
      enums: String,
      defaults: true,
    }),
  );
  return definitions;
}

function ctor<T>(path: string): ClientCtor<T> {
  let node: unknown = services();
  for (const part of path.split(".")) node = (node as Record<string, unknown>)[part];
  return node as ClientCtor<T>;
}

export class ContainerdApi {
  readonly containers: ContainersClient;
  readonly tasks: TasksClient;
  readonly events: EventsClient;
  readonly version: VersionClient;

  constructor(socketPath = DEFAULT_CONTAINERD_SOCKET) {
    const address = `unix://${socketPath}`;
    const credentials = grpc.credentials.createInsecure();
    // grpc-js's own reconnect backoff grows to 120 s; keep it short so a restarted containerd is seen promptly.
    const channel = { "grpc.initial_reconnect_backoff_ms": 250, "grpc.max_reconnect_backoff_ms": 5_000 };
    this.containers = new (ctor<ContainersClient>("containerd.services.containers.v1.Containers"))(address, credentials, channel);
    // The other clients ride on the first one's channel: one connection to containerd, not four.
    const shared = { channelOverride: this.containers.getChannel() };
    this.tasks = new (ctor<TasksClient>("containerd.services.tasks.v1.Tasks"))(address, credentials, shared);
    this.events = new (ctor<EventsClient>("containerd.services.events.v1.Events"))(address, credentials, shared);
    this.version = new (ctor<VersionClient>("containerd.services.version.v1.Version"))(address, credentials, shared);
  }

  /** A unary call in a namespace (containerd scopes containers and tasks by the `containerd-namespace` header). */
  call<Req, Res>(method: Unary<Req, Res>, client: grpc.Client, req: Req, namespace: string | null, timeoutMs: number): Promise<Res> {
    const md = new grpc.Metadata();
    if (namespace) md.set("containerd-namespace", namespace);
    return new Promise((resolve, reject) => {
      method.call(client, req, md, { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res!)));
    });
  }

  close(): void {
    this.containers.close();
  }
}

export function isNotFound(err: unknown): boolean {
  return (err as { code?: number }).code === grpc.status.NOT_FOUND;
}

/**
 * The string fields 1 and 2 of an event payload, read straight from protobuf's wire format: TaskStart,
 * TaskExit, TaskDelete and ContainerDelete all carry the container id as field 1 (TaskExit's exec id is 2),
 * so no message definitions are needed to learn which container an event is about.
 */
export function eventIds(value: Uint8Array): { first: string; second: string } {
  const out = { first: "", second: "" };
  let i = 0;
  const varint = (): number => {
    let result = 0;
    let scale = 1;
    for (;;) {
      if (i >= value.length) throw new Error("truncated varint");
      const byte = value[i++]!;
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 128;
    }
  };
  try {
    while (i < value.length) {
      const key = varint();
      const field = Math.floor(key / 8);
      const wire = key % 8;
      if (wire === 0) varint();
      else if (wire === 1) i += 8;
      else if (wire === 5) i += 4;
      else if (wire === 2) {
        const length = varint();
        const text = Buffer.from(value.subarray(i, i + length)).toString("utf8");
        if (field === 1) out.first = text;
        if (field === 2) out.second = text;
        i += length;
      } else break; // groups: not used by these messages
    }
  } catch {
    // a truncated payload: keep what was read
  }
  return out;
}
