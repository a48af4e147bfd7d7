// Bearer-token guards for the endpoints that must not be public: POST /feedback (FEEDBACK_TOKEN) and
// the admin surface (ADMIN_TOKEN: /admin/*, and whatever else the access rules put behind it).
// Tokens are compared as SHA-256 digests with timingSafeEqual, so neither length nor content leaks
// through timing.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from './errors.ts';

const digest = (s: string) => createHash('sha256').update(s).digest();

const BEARER_RE = /^Bearer\s+(\S+)\s*$/i;

/** The token of an `Authorization: Bearer …` header, or undefined. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  return BEARER_RE.exec(header)?.[1];
}

/** A constant-time check of a given token against the configured one. */
export function tokenChecker(token: string): (given: string | undefined) => boolean {
  const expected = digest(token);
  return (given) => given !== undefined && timingSafeEqual(digest(given), expected);
}

/**
 * An onRequest hook that lets a request through when `token` is unset, or when it carries
 * `Authorization: Bearer <token>`; otherwise 401 naming the variable to send.
 */
export function requireBearer(
  token: string | undefined,
  opts: { variable: string; realm: string },
): (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => void {
  if (token === undefined) return (_request, _reply, done) => done();
  const matches = tokenChecker(token);
  return (request, reply, done) => {
    const given = bearerToken(request.headers.authorization);
    if (matches(given)) return done();
    reply.header('www-authenticate', `Bearer realm="${opts.realm}"`);
    done(
      new HttpError(
        401,
        'unauthorized',
        given !== undefined
          ? `the Bearer token is not the one configured (${opts.variable}): send the right token`
          : `this endpoint needs a token: send the header Authorization: Bearer <${opts.variable}>`,
      ),
    );
  };
}

/**
 * A constant-time lookup of a given key among several named ones (API_KEYS): the name of the key it
 * equals, or undefined. The given key is hashed once and compared with every configured digest, so
 * the time taken depends on neither which key matched nor how much of one did.
 */
export function namedTokenMatcher(
  tokens: ReadonlyMap<string, string>,
): (given: string | undefined) => string | undefined {
  const entries = [...tokens].map(([name, token]) => ({ name, digest: digest(token) }));
  return (given) => {
    if (given === undefined) return undefined;
    const d = digest(given);
    let found: string | undefined;
    for (const e of entries) if (timingSafeEqual(d, e.digest)) found = e.name;
    return found;
  };
}
