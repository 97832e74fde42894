// The Go tool's opt-in rules, as one pure function, for processes found in /proc (the kernel applies
// the same rules at exec: see enum adi_optin_verdict in bpf/capture.h).

/**
 * "undecided": the kernel could not walk the whole environment at exec (it is longer than ADI_ENV_READS_MAX
 * reads) and /proc/PID/environ could not be read either (the process was gone): nothing was captured from it.
 */
export const OPTIN_VERDICTS = ["none", "yes", "disabled", "not_allowed", "undecided"] as const;
export type OptInVerdict = (typeof OPTIN_VERDICTS)[number];

/** The kernel's numeric verdict (adi_proc_event.optin) to its name. */
export const OPTIN_VERDICT_BY_KERNEL_CODE = {
  0: "none", // ADI_OPTIN_NONE
  1: "yes", // ADI_OPTIN_YES
  2: "disabled", // ADI_OPTIN_DISABLED
  3: "not_allowed", // ADI_OPTIN_NOT_ALLOWED
  4: "undecided", // ADI_OPTIN_UNDECIDED
} as const satisfies Record<number, OptInVerdict>;

export function optinVerdictFromKernel(code: number): OptInVerdict {
  const verdict = (OPTIN_VERDICT_BY_KERNEL_CODE as Record<number, OptInVerdict | undefined>)[code];
  if (verdict === undefined) throw new RangeError(`unknown kernel opt-in verdict ${code}`);
  return verdict;
}

export interface OptInDecision {
  readonly verdict: OptInVerdict;
  /** ADI_PROFILE's value whenever set, even when the verdict is not "yes" (it tells why). */
  readonly profile?: string;
  /** ADI_PROFILE_NAME's value when set and not empty. */
  readonly name?: string;
}

/**
 * A process is profiled when ADI_PROFILE is set and not empty, ADI_PROFILE_DISABLED is not "1", and,
 * when an allowed list is given and not empty, ADI_PROFILE's value is in it (exact, case-sensitive).
 * The override wins over the allowed list, as in the Go tool's table.
 */
export function decideOptIn(
  env: Readonly<Record<string, string | undefined>>,
  allowed: readonly string[] | undefined,
): OptInDecision {
  const profile = env.ADI_PROFILE;
  if (profile === undefined || profile === "") return { verdict: "none" };
  const name = env.ADI_PROFILE_NAME;
  const found = name === undefined || name === "" ? { profile } : { profile, name };
  if (env.ADI_PROFILE_DISABLED === "1") return { verdict: "disabled", ...found };
  if (allowed !== undefined && allowed.length > 0 && !allowed.includes(profile)) {
    return { verdict: "not_allowed", ...found };
  }
  return { verdict: "yes", ...found };
}
