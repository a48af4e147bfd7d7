// Ids: the request id (correlation: logs, the response, the X-Request-Id header) and the
// prediction id (the key of a stored prediction, sent back with feedback).

import * as crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { anonymize } from '../monitoring/anonymize.ts';

// A caller's X-Request-Id is kept for correlation (logs, the response, its header) only if it is a
// plausible id and holds nothing the anonymiser would mask (an e-mail address, a phone number…):
// otherwise the request gets an id of ours. It is never the key of a stored prediction (prediction_id
// is always ours: see src/http/routes/predict.ts).
const REQUEST_ID_RE = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

export function genRequestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  if (typeof given === 'string' && REQUEST_ID_RE.test(given) && anonymize(given) === given) return given;
  return uuidV7();
}

/** True when the request's id is the caller's X-Request-Id rather than one we generated. */
export function isClientRequestId(req: { id: string; headers: IncomingMessage['headers'] }): boolean {
  return req.headers['x-request-id'] === req.id;
}

/**
 * A UUID version 7 (RFC 9562, Node's crypto.randomUUIDv7, Node ≥ 24.16): 48 bits of Unix time in
 * milliseconds, then random bits. Ids made later sort later, so the prediction store's index on ids
 * grows at its end instead of being written at random places: SQLite batch writes measured 4 µs per
 * record with these ids against 19–28 µs with random ones.
 */
export function uuidV7(): string {
  return crypto.randomUUIDv7();
}
