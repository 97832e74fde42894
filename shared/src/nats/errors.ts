// What a NATS error means, decided in one place: by nats.js's error classes (@nats-io/nats-core and
// @nats-io/jetstream 3.4) and the JetStream API's err_code, never by a service matching message text. nats.js
// wraps: a request's NoRespondersError is the cause of a RequestError, which is the cause of a JetStreamNotEnabled
// when the request was a JetStream API call; so every test below walks the cause chain.
// The few refusals nats.js 3.4 has no class or code for are matched on their text here, and only here
// (TEXT_ONLY_REFUSALS); a nats.js upgrade is checked against shared/test/nats-errors.int.spec.ts, which makes each
// error for real.
import {
  AuthorizationError,
  ClosedConnectionError,
  ConnectionError,
  DrainingConnectionError,
  InvalidArgumentError,
  NoRespondersError,
  PermissionViolationError,
  ProtocolError,
  RequestError,
  TimeoutError,
  UserAuthenticationExpiredError,
} from "@nats-io/transport-node";
import { JetStreamApiCodes, JetStreamApiError, JetStreamError } from "@nats-io/jetstream";
// JetStreamNotEnabled is exported only through the package's "./internal" entry (nats.js 3.4).
import { jserrors } from "@nats-io/jetstream/internal";

/**
 * err_code values of the JetStream API (nats-server's server/errors.json, stable across releases) that nats.js
 * 3.4's JetStreamApiCodes does not name. Named as the server names them (JSClusterNoPeersErr...).
 */
export const JetStreamServerCodes = {
  /** JSClusterNoPeersErr: no suitable peers for placement (a cluster still forming). */
  ClusterNoPeers: 10005,
  /** JSClusterNotAvailErr: JetStream system temporarily unavailable. */
  ClusterNotAvail: 10008,
  /** JSClusterNotLeaderErr: JetStream cluster can not handle request (no meta leader yet). */
  ClusterNotLeader: 10009,
  /** JSInsufficientResourcesErr: insufficient resources (peers not yet able to hold a replica). */
  InsufficientResources: 10023,
  /** JSConsumerNameExistErr: consumer name already in use. */
  ConsumerNameExist: 10013,
  /** JSStreamNameExistErr: stream name already in use with a different configuration. */
  StreamNameExist: 10058,
  /** JSConsumerExistingActiveErr: consumer already exists and is still active. */
  ConsumerExistingActive: 10105,
  /** JSConsumerAlreadyExists: action CREATE for an existing consumer with a different config (servers ≥ 2.10). */
  ConsumerAlreadyExists: 10148,
} as const;

/** `err` and its causes, outermost first (at most 8: a cause chain is never that deep, a cycle would be). */
function* chain(err: unknown): Generator<Error> {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) yield e;
}

/** The JetStream API's err_code of the first JetStreamApiError in `err`'s cause chain, or undefined. */
export function jetStreamApiCode(err: unknown): number | undefined {
  for (const e of chain(err)) if (e instanceof JetStreamApiError) return e.code;
  return undefined;
}

/** The JetStream API said the stream does not exist (err_code 10059; nats.js's StreamNotFoundError). */
export function isStreamNotFound(err: unknown): boolean {
  return jetStreamApiCode(err) === JetStreamApiCodes.StreamNotFound;
}

/** The JetStream API said the consumer does not exist (err_code 10014; nats.js's ConsumerNotFoundError). */
export function isConsumerNotFound(err: unknown): boolean {
  return jetStreamApiCode(err) === JetStreamApiCodes.ConsumerNotFound;
}

const ALREADY_EXISTS: ReadonlySet<number> = new Set([
  JetStreamServerCodes.StreamNameExist,
  JetStreamServerCodes.ConsumerNameExist,
  JetStreamServerCodes.ConsumerExistingActive,
  JetStreamServerCodes.ConsumerAlreadyExists,
]);

/**
 * An add refused because a stream or consumer of that name exists with another configuration (err_codes 10058,
 * 10013, 10105, 10148): another service created it first, and the caller reads or updates it instead.
 */
export function isAlreadyExists(err: unknown): boolean {
  const code = jetStreamApiCode(err);
  return code !== undefined && ALREADY_EXISTS.has(code);
}

/** A request (a JetStream API call, a publish's ack) got no answer in time: nats-core's TimeoutError. */
export function isTimeout(err: unknown): boolean {
  for (const e of chain(err)) if (e instanceof TimeoutError) return true;
  return false;
}

/**
 * Nobody subscribes to the request's subject: nats-core's NoRespondersError (a JetStream call to a server or
 * account without JetStream, or to a stream not there yet for a publish, comes as nats.js's JetStreamNotEnabled
 * with this as its cause).
 */
export function isNoResponders(err: unknown): boolean {
  for (const e of chain(err)) if (e instanceof NoRespondersError || (e instanceof RequestError && e.isNoResponders())) return true;
  return false;
}

const CLUSTER_FORMING: ReadonlySet<number> = new Set([
  JetStreamServerCodes.ClusterNoPeers,
  JetStreamServerCodes.ClusterNotAvail,
  JetStreamServerCodes.ClusterNotLeader,
  JetStreamServerCodes.InsufficientResources,
]);

/**
 * The server or the account has no JetStream: nats.js's JetStreamNotEnabled (a JetStream API call nobody answers,
 * or err_code 10039).
 */
export function isJetStreamNotEnabled(err: unknown): boolean {
  for (const e of chain(err)) if (e instanceof jserrors.JetStreamNotEnabled) return true;
  return false;
}

/**
 * What a JetStream cluster still forming (peers joining, no meta leader yet) or a broker paused for a moment
 * answers, and a retry cures: a timeout, no responders, or err_code 10005, 10008, 10009, 10023. Not a broker
 * without JetStream (isJetStreamNotEnabled, though it is "no responders" underneath): waiting will not give it one.
 */
export function isTransient(err: unknown): boolean {
  const code = jetStreamApiCode(err);
  if (code !== undefined) return CLUSTER_FORMING.has(code);
  return isTimeout(err) || (isNoResponders(err) && !isJetStreamNotEnabled(err));
}

/**
 * Refusals nats.js 3.4 turns into no class of their own (a ProtocolError, ConnectionError or InvalidArgumentError
 * carrying only the text), so their text is the only mark: the server's -ERR 'User Authentication Revoked' (nats.js
 * parses only "...expired" and "authorization violation" into classes), its -ERR 'Secure Connection - TLS
 * Required', nats.js's own "server does not support 'tls'" (ConnectionError, options.js) and "tls ... is not
 * available on this server" (InvalidArgumentError, node_transport.js).
 */
const TEXT_ONLY_REFUSALS: readonly ((e: Error) => boolean)[] = [
  (e) => e instanceof ProtocolError && /user authentication revoked|tls required/i.test(e.message),
  (e) => e instanceof ConnectionError && /server does not support 'tls'/i.test(e.message),
  (e) => e instanceof InvalidArgumentError && /tls.*is not available on this server/i.test(e.message),
];

/** node's codes for a TLS peer it cannot trust or agree with (tls.connect's rejections: a typed code, not text). */
const TLS_REFUSAL_CODE = /^(DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_HAS_EXPIRED|CERT_UNTRUSTED|ERR_TLS_CERT_ALTNAME_INVALID|ERR_SSL_.*)$/;

/** The server refused the credentials: nats-core's AuthorizationError (also an authentication timeout) or UserAuthenticationExpiredError. */
export function isAuthorizationRefusal(err: unknown): boolean {
  for (const e of chain(err)) if (e instanceof AuthorizationError || e instanceof UserAuthenticationExpiredError) return true;
  return false;
}

/**
 * An error no retry cures: the credentials refused (isAuthorizationRefusal), or TLS that cannot be agreed (an
 * untrusted or expired certificate, TLS asked of a server without it, or the reverse). Retrying them for
 * ADI_START_TIMEOUT would only delay the same line by a minute.
 */
export function isPermanentRefusal(err: unknown): boolean {
  if (isAuthorizationRefusal(err)) return true;
  for (const e of chain(err)) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && TLS_REFUSAL_CODE.test(code)) return true;
    if (TEXT_ONLY_REFUSALS.some((rule) => rule(e))) return true;
  }
  return false;
}

/** nats.js's error classes that say the broker, the connection or the JetStream API failed (not a bug of ours). */
const BROKER_ERRORS = [
  jserrors.JetStreamNotEnabled,
  JetStreamError, // and its JetStreamStatusError
  JetStreamApiError, // and its StreamNotFoundError, ConsumerNotFoundError
  TimeoutError,
  RequestError,
  NoRespondersError,
  ClosedConnectionError,
  DrainingConnectionError,
  ConnectionError,
  ProtocolError,
  PermissionViolationError,
  AuthorizationError,
  UserAuthenticationExpiredError,
] as const;

/**
 * An error of the NATS client or the broker: a connection, request, timeout, permission or JetStream API error,
 * by nats.js's classes anywhere in the cause chain.
 */
export function isBrokerError(err: unknown): boolean {
  for (const e of chain(err)) if (BROKER_ERRORS.some((cls) => e instanceof cls)) return true;
  return false;
}
