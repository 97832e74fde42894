// For a connection whose side is unknown (first seen mid-life): holds both directions' bytes until one of them
// shows a request line (or a status line), which tells which direction carries requests.
import { MAX_LINE, findStartLine } from "./start-line.ts";

export type { Direction } from "@adi/shared/wire";
import type { Direction } from "@adi/shared/wire";

export interface HeldData {
  direction: Direction;
  payload: Buffer;
  tsNs: bigint;
  gapBytes: number;
}

/** Bytes held per direction while undecided; older ones are dropped (the parser resyncs past the hole). */
const HOLD_LIMIT = 65536;

const other = (d: Direction): Direction => (d === "egress" ? "ingress" : "egress");

export class RequestDirectionDetector {
  private held: HeldData[] = [];
  private readonly heldBytes = { egress: 0, ingress: 0 };
  /** The end of each direction's bytes, where a start line may have begun. */
  private readonly tail = { egress: "", ingress: "" };

  /** Holds the data; returns the direction that carries requests once one is known. */
  offer(data: HeldData): Direction | null {
    const { direction, payload, gapBytes } = data;
    this.held.push({ ...data, payload: Buffer.from(payload) });
    this.heldBytes[direction] += payload.length;
    const text = this.tail[direction] + payload.toString("latin1");
    if (findStartLine("request", text) >= 0) return direction;
    if (findStartLine("response", text) >= 0) return other(direction);
    // A start line cannot span lost bytes.
    this.tail[direction] = gapBytes > 0 ? "" : text.slice(-MAX_LINE);
    while (this.heldBytes[direction] > HOLD_LIMIT) this.dropOldest(direction);
    return null;
  }

  /** Everything held, in arrival order; the detector is empty afterwards. */
  drain(): HeldData[] {
    const out = this.held;
    this.held = [];
    this.heldBytes.egress = 0;
    this.heldBytes.ingress = 0;
    return out;
  }

  private dropOldest(direction: Direction): void {
    const i = this.held.findIndex((h) => h.direction === direction);
    const [dropped] = this.held.splice(i, 1);
    this.heldBytes[direction] -= dropped!.payload.length;
  }
}
