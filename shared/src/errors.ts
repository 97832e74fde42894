// One registry for every error adi reports to a user, fastify-style: a stable code, what it means, the
// process exit code it maps to and, where one exists, what to do about it. Callers throw
// `adiError(code, detail)`; the entry point turns whatever escaped into one line with `formatFatal`.

export interface ErrorCodeInfo {
  readonly exitCode: number;
  readonly description: string;
  /** What the user can do about it; appended to the fatal line. */
  readonly hint?: string;
}

export const ErrorCodes = {
  ADI_ERR_CONFIG: {
    exitCode: 2,
    description: "an environment variable or a command-line argument has an invalid value (adi diff: its sides, or a saved map that cannot be read or is not one)",
  },
  ADI_ERR_OUTPUT_PATH: {
    exitCode: 2,
    description:
      "an output path (OUTPUT_PATH, SERVICE_MAP_PATH, ENV_OUTPUT_PATH, adi replay's --out) is not a regular file adi may write: a directory, a symbolic link, a special file, or in a directory that does not exist; or two outputs name the same file; or adi replay cannot write in its --out directory",
    hint: "name a regular file, or a new one, in an existing directory (adi replay --out: an existing directory adi may write in)",
  },
  ADI_ERR_NOT_ROOT: {
    exitCode: 3,
    description: "insufficient privileges to load eBPF programs",
    hint: "run as root, or grant CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN",
  },
  ADI_ERR_NO_BTF: {
    exitCode: 3,
    description: "the kernel exposes no BTF (/sys/kernel/btf/vmlinux is missing)",
    hint: "use a kernel built with CONFIG_DEBUG_INFO_BTF=y (5.8 or later)",
  },
  ADI_ERR_TRACEFS: {
    exitCode: 3,
    description: "tracefs is not mounted and could not be mounted",
    hint: "mount it: mount -t tracefs tracefs /sys/kernel/tracing",
  },
  ADI_ERR_DATA_DIR: {
    exitCode: 2,
    description:
      "ADI_DATA_DIR, the embedded broker's store in it, or its key (nats/adi-user.nk) cannot be trusted: owned by another user, a symbolic link, writable (the directory), open (the store) or readable (the key) by group or others, or the key holds no nkey seed. adi never changes a mode or owner for you",
    hint: "make it yours and private (directories not writable by others, the store 0700, the key 0600), or remove the key to have a new one made at the next start (clients using the old one must then use the new one)",
  },
  ADI_ERR_BPF_LOAD: {
    exitCode: 4,
    description: "the kernel refused to load or attach the eBPF program",
  },
  ADI_ERR_ADDON_MISSING: {
    exitCode: 4,
    description: "the native capture addon is not built",
    hint: "run scripts/setup.sh",
  },
  ADI_ERR_NATS_UNREACHABLE: {
    exitCode: 5,
    description: "the NATS server cannot be reached",
  },
  ADI_ERR_NATS_AUTH: {
    exitCode: 5,
    description:
      "the NATS server refused the connection: its credentials (Authorization Violation, an authentication timeout) or TLS (a certificate that does not verify, TLS required by one side only). Permanent: not retried",
    hint: "check NATS_URL's user:password@ or token@, NATS_CREDS, NATS_NKEY, NATS_USER/NATS_PASSWORD, NATS_TOKEN, NATS_CA, NATS_CERT/NATS_KEY",
  },
  ADI_ERR_NATS_SERVER_MISSING: {
    exitCode: 5,
    description: "the nats-server binary for the embedded server was not found",
    hint: "run scripts/setup.sh, or set NATS_URL to use an existing server",
  },
  ADI_ERR_NOT_FOLLOWING: {
    exitCode: 5,
    description: "a service could not create or follow its JetStream consumers within ADI_START_TIMEOUT, or adi replay could not read a stream",
    hint: "check that the broker at NATS_URL is up with JetStream enabled; ADI_START_TIMEOUT sets the bound",
  },
  ADI_ERR_NO_STREAM: {
    exitCode: 5,
    description: "a stream adi reads (ADI_RAW, ADI_FACTS) does not exist on the broker: nothing was ever captured there",
    hint: "run adi capture (or adi up) against this broker first, or point NATS_URL at the broker that holds the streams",
  },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ErrorCodes;

export class AdiError extends Error {
  override readonly name = "AdiError";
  readonly code: ErrorCode;
  readonly exitCode: number;

  constructor(code: ErrorCode, detail: string, options?: { cause?: unknown }) {
    super(detail, options);
    this.code = code;
    this.exitCode = ErrorCodes[code].exitCode;
  }
}

export function adiError(code: ErrorCode, detail: string, cause?: unknown): AdiError {
  return new AdiError(code, detail, cause === undefined ? undefined : { cause });
}

export function isAdiError(err: unknown): err is AdiError {
  return err instanceof AdiError;
}

/** Exit code for anything that is not an AdiError: a bug, not a user problem. */
export const UNEXPECTED_EXIT_CODE = 1;

/**
 * The single line printed before exiting: `adi: <code>: <detail>` (plus the cause's message when the
 * detail does not already carry it, plus the registry's hint) for an AdiError, `adi: <message>` with
 * exit code 1 for anything else. Newlines are folded so the line stays one line in any log collector.
 */
export function formatFatal(err: unknown): { line: string; exitCode: number } {
  if (err instanceof AdiError) {
    let text = err.message;
    const causeMessage = err.cause instanceof Error ? err.cause.message : undefined;
    if (causeMessage && !text.includes(causeMessage)) text += `: ${causeMessage}`;
    const hint = (ErrorCodes[err.code] as ErrorCodeInfo).hint;
    if (hint) text += ` (${hint})`;
    return { line: oneLine(`adi: ${err.code}: ${text}`), exitCode: err.exitCode };
  }
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return { line: oneLine(`adi: ${text}`), exitCode: UNEXPECTED_EXIT_CODE };
}

function oneLine(s: string): string {
  return s.replace(/\s*[\r\n]+\s*/g, " ").trim();
}
