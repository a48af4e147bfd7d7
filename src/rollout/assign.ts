// Sticky assignment of a request to the champion or the challenger.
//
// A request is keyed by its X-User-Id, or without one by a configurable request key (a header, or the
// client IP). The key is hashed with a fixed salt into a bucket in [0, 10000); buckets below the
// challenger's share (in hundredths of a percent) go to the challenger. The hash is a pure function
// of salt + key, so every instance and every restart sends a user to the same version (LOG_HASH_KEY
// cannot be used: it is random per process when unset).
//
// Why a hand-written FNV-1a (+ murmur3's finaliser) rather than node:crypto: crypto.hash('sha1', …)
// measured ~310 ns per 36-char id plus a string allocated for its digest, and needs the salt and id
// concatenated first; this measured ~80 ns and allocates nothing (Node 24, 10^6 UUID-like ids).
// FNV-1a alone mixes its low bits poorly for ids that differ only in their last characters (user-1,
// user-2, …), hence the finaliser: with it 10,000 sequential ids split within 0.1 % of a 10 % share
// (test/unit/rollout-assign.test.ts checks 1 %).

export const BUCKETS = 10_000;

export type RolloutMode = 'off' | 'shadow' | 'canary' | 'ab';
export const ROLLOUT_MODES: readonly RolloutMode[] = ['off', 'shadow', 'canary', 'ab'];

/** champion/challenger answer; shadow is the challenger scoring a text off the response path. */
export type Role = 'champion' | 'challenger' | 'shadow';
export const ROLES: readonly Role[] = ['champion', 'challenger', 'shadow'];

/** 32-bit FNV-1a of salt then key (UTF-16 code units), finished with murmur3's fmix32. */
export function hash32(salt: string, key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < salt.length; i++) {
    h ^= salt.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= 0x1f; // separator, so that ("ab", "c") and ("a", "bc") differ
  h = Math.imul(h, 0x01000193);
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The bucket of a key, in [0, BUCKETS). */
export function bucketOf(salt: string, key: string): number {
  return hash32(salt, key) % BUCKETS;
}

/** Percent (0..100, two decimals) → number of buckets sent to the challenger. */
export function bucketsFor(percent: number): number {
  return Math.round(Math.min(100, Math.max(0, percent)) * (BUCKETS / 100));
}

/**
 * Where the rollout key of a request comes from when it has no X-User-Id: `ip` (the client IP, as
 * TRUST_PROXY resolves it) or `header:<name>` (a header such as X-Session-Id).
 */
export type KeySource = { kind: 'ip' } | { kind: 'header'; name: string };

export function parseKeySource(s: string): KeySource | undefined {
  if (s === 'ip') return { kind: 'ip' };
  const m = /^header:([A-Za-z0-9!#$%&'*+.^_`|~-]+)$/.exec(s);
  return m ? { kind: 'header', name: m[1].toLowerCase() } : undefined;
}

/** What the data plane needs from a request to assign it. */
export type KeyedRequest = { headers: Record<string, string | string[] | undefined>; ip: string };

/** The key a request is assigned by: X-User-Id first, then the configured source. */
export function rolloutKey(request: KeyedRequest, source: KeySource): string {
  const user = request.headers['x-user-id'];
  if (typeof user === 'string' && user !== '') return user;
  if (source.kind === 'header') {
    const v = request.headers[source.name];
    if (typeof v === 'string' && v !== '') return v;
  }
  return request.ip;
}

/**
 * Which version answers a request: in canary/ab mode the challenger answers the keys whose bucket is
 * below `challengerBuckets`; otherwise (off, shadow) the champion does.
 */
export function answeringRole(mode: RolloutMode, bucket: number, challengerBuckets: number): 'champion' | 'challenger' {
  if ((mode === 'canary' || mode === 'ab') && bucket < challengerBuckets) return 'challenger';
  return 'champion';
}
