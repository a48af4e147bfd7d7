// Security headers on every response. The API answers JSON, which a browser should never render,
// sniff or frame: the policy for it allows nothing. HTML pages (/docs, the coming /dashboard) get a
// policy that allows their own files and exactly the inline scripts they carry (by SHA-256 hash), so
// injected markup still cannot run.
//
// Why not @fastify/helmet: it sets 13 headers tuned for HTML sites on every response through a
// middleware call per request; a JSON API needs five, set here with one `reply.headers()` of a
// constant object (cost measured by bench/hooks.ts; README, "Access and threat model").

import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest, onSendHookHandler, RouteOptions } from 'fastify';

export const API_CSP = "default-src 'none'; frame-ancestors 'none'";

const API_HEADERS = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': API_CSP,
  'referrer-policy': 'no-referrer',
  // Legacy twin of frame-ancestors, for browsers that predate CSP 2.
  'x-frame-options': 'DENY',
  'cross-origin-resource-policy': 'same-origin',
  // Predictions and figures are per request: no proxy or browser should keep them. Routes that may
  // be cached (the docs' static files) set their own Cache-Control.
  'cache-control': 'no-store',
} as const;

/** Routes that serve HTML pages (their CSP is computed from the page). */
export function isHtmlRoute(url: string): boolean {
  return url === '/docs' || url === '/dashboard' || url.startsWith('/dashboard/');
}

const INLINE_SCRIPT_RE = /<script(?:\s[^>]*)?>([\s\S]*?)<\/script>/gi;

/**
 * The Content-Security-Policy of an HTML page: scripts, styles, images and fetches from this origin,
 * plus the page's own inline scripts by hash. Inline styles are allowed (Swagger UI sets them as
 * attributes); they cannot run code.
 */
export function htmlCsp(html: string): string {
  const hashes: string[] = [];
  for (const m of html.matchAll(INLINE_SCRIPT_RE)) {
    if (m[1].trim() === '') continue; // <script src=…></script>
    hashes.push(`'sha256-${createHash('sha256').update(m[1]).digest('base64')}'`);
  }
  return [
    "default-src 'self'",
    `script-src 'self'${hashes.length > 0 ? ` ${hashes.join(' ')}` : ''}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Adds the headers; call before routes are registered (HTML routes get their page's policy). */
export function securityHeaders(app: FastifyInstance): void {
  app.addHook('onRequest', (_request: FastifyRequest, reply: FastifyReply, done) => {
    reply.headers(API_HEADERS);
    done();
  });
  // Pages are few and static: each distinct page's policy is computed once.
  const cache = new Map<string, string>();
  // A page that sets its own policy (the dashboard's is stricter: no inline code at all) keeps it.
  const pageCsp: onSendHookHandler = (_request, reply, payload, done) => {
    if (
      typeof payload === 'string' &&
      reply.getHeader('content-security-policy') === API_CSP &&
      String(reply.getHeader('content-type') ?? '').startsWith('text/html')
    ) {
      let csp = cache.get(payload);
      if (csp === undefined) {
        csp = htmlCsp(payload);
        if (cache.size < 64) cache.set(payload, csp);
      }
      reply.header('content-security-policy', csp);
    }
    done(null, payload);
  };
  app.addHook('onRoute', (route: RouteOptions) => {
    if (!isHtmlRoute(route.url)) return;
    const own = route.onSend === undefined ? [] : Array.isArray(route.onSend) ? route.onSend : [route.onSend];
    route.onSend = [...own, pageCsp];
  });
}
