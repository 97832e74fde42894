// What a fingerprint says about some bytes. `detail` is worded for people: on a match it becomes part of the
// verdict's reason (the Go tool's detection_reason); on a miss it says why, which helps when reading tests.
export interface Fingerprint {
  match: boolean;
  detail: string;
}

export function matched(detail: string): Fingerprint {
  return { match: true, detail };
}

export function notMatched(detail: string): Fingerprint {
  return { match: false, detail };
}
