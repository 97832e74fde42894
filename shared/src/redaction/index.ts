// Redaction, the one public surface (`@adi/shared/redaction`): which names and values are secrets (rules as
// tables: names.ts, values.ts, cmdline.ts), how HTTP messages, command lines and environments are redacted, and
// the policy built from the configuration that every publisher and writer applies (policy.ts).
export { BUILTIN_SECRET_NAMES, isSecretName, NAME_ESCAPE_HINT, NEVER_SECRET_ENV_NAMES, NEVER_SECRET_PREFIXES, normalizeName, NOT_SECRET_NAMES, REDACTED, SECRET_NAME_RULES, SecretNames, trieRegex } from "./names.ts";
export {
  AUTH_SCHEMES,
  compileExtraPatterns,
  MARK,
  MASK,
  mayHoldValue,
  VALUE_HINTS,
  redactFields,
  redactUrlPasswords,
  redactValues,
  TEXT_FIELD_RULES,
  TOKEN_PREFIX_RULES,
  VALUE_RULES,
  type Marker,
  type TextFieldRule,
  type ValueRule,
} from "./values.ts";
export { JSON_PAIR_RULES, redactJson } from "./json.ts";
export {
  CMDLINE_FLAG_RULES,
  CMDLINE_POSITIONAL_RULES,
  CMDLINE_VALUELESS_FLAGS,
  GENERIC_LONG_FLAG,
  type CmdlineFlagRule,
  type CmdlinePositionalRule,
  type FlagForm,
  type FlagValue,
} from "./cmdline.ts";
export { filterAndRedactEnv, parseEnviron, type EnvFilterOptions } from "./env.ts";
export {
  maskBytes,
  maskLatin1,
  REDACTION_CATEGORIES,
  RedactionPolicy,
  type RedactionCategory,
  type RedactionConfig,
  type RedactionSettings,
} from "./policy.ts";

export { createWireMasker, maskFirstBytes, WIRE_PROTOCOLS, WIRE_RULES, type WireMasker, type WireSide } from "./wire-mask.ts";
