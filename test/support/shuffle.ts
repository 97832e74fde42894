// Deterministic pseudo-randomness for unit tests (no Math.random: a test must be reproducible from its seed).

/** One step of a 32-bit linear congruential generator (Numerical Recipes' constants). */
export const nextState = (state: number): number => (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;

/** Fisher-Yates driven by `seed` (from fast-check, say, which then owns the randomness): a new array. */
export function shuffle<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let state = seed >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    state = nextState(state);
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
