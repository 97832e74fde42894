// Polling for the e2e specs: until a condition holds (or fail), or until what is read is enough (or time is up).
import { sleep } from "./capture.ts";

/** Checks `check` every 200 ms until it holds; throws "timed out waiting for <what>" after `timeoutMs`. */
export async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/**
 * Reads every `intervalMs` until `enough` holds of what was read, or `timeoutMs` has passed; resolves with the last
 * read either way (the test's assertions then say what is missing).
 */
export async function poll<T>(read: () => Promise<T> | T, enough: (value: T) => boolean, timeoutMs: number, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (enough(value) || Date.now() > deadline) return value;
    await sleep(intervalMs);
  }
}
