// Who may call what: API keys for POST /predict (API_KEYS), the admin token (ADMIN_TOKEN) for the
// endpoints that reveal or change the service (/admin/*, /monitoring/*, /metrics), rate
// limits per API key or client IP (RATE_LIMIT_MAX), CORS (CORS_ORIGINS), and /metrics on a separate,
// internal port (METRICS_PORT). The threat model is in the README ("Access and threat model").
//
// Guards are attached per route when the route is registered (Fastify's onRoute hook), so a route
// that needs none — /alive, /ready — pays nothing for them. Call `guardAccess` before any route is
// added.

import type { Server } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler, RouteOptions } from 'fastify';
import { Counter, type Registry } from 'prom-client';
import type { AccessConfig } from '../config.ts';
import type { Metrics } from '../monitoring/metrics.ts';
import { bearerToken, namedTokenMatcher, requireBearer } from './auth.ts';
import { HttpError } from './errors.ts';
import { EXEMPT_ROUTES } from './limits.ts';

export const DEFAULT_ACCESS: AccessConfig = {
  apiKeys: new Map(),
  rateLimitMax: 0,
  rateLimitWindowS: 60,
  corsOrigins: [],
  metricsPort: 0,
};

/**
 * Routes behind ADMIN_TOKEN (when it is set). /dashboard is not among them: it checks the same token
 * itself (src/dashboard/routes.ts), as a Bearer header or as the session cookie its sign-in page sets,
 * which a browser can send and a header guard would refuse.
 */
export function isAdminRoute(url: string): boolean {
  return (
    url === '/metrics' ||
    url === '/admin' ||
    url.startsWith('/admin/') ||
    url === '/monitoring' ||
    url.startsWith('/monitoring/')
  );
}

/**
 * Routes that need an API key (when API_KEYS is set): every way into the data plane — /predict and
 * the Open Inference Protocol's infer (src/http/routes/v2.ts) — or the second would bypass the keys.
 */
const API_KEY_ROUTES = new Set(['/predict', '/v2/models/:name/infer', '/v2/models/:name/versions/:version/infer']);

const kKeyName = Symbol('msgcls.apiKeyName');
type KeyedRequest = FastifyRequest & { [kKeyName]?: string };

export type AccessOptions = {
  access: AccessConfig;
  adminToken: string | undefined;
  registry: Registry | undefined;
};

/** The name of the API key the request was admitted with (for the access log). */
export function apiKeyName(request: FastifyRequest): string | undefined {
  return (request as KeyedRequest)[kKeyName];
}

export async function guardAccess(app: FastifyInstance, opts: AccessOptions): Promise<void> {
  const { access, adminToken, registry } = opts;
  app.decorateRequest(kKeyName, undefined);

  const keyRequests =
    registry &&
    new Counter({
      name: 'msgcls_api_key_requests_total',
      help: 'Requests to API-key routes, by key name (never the key) and result: accepted, missing or invalid key.',
      labelNames: ['api_key', 'result'],
      registers: [registry],
    });
  const rateLimited =
    registry &&
    new Counter({
      name: 'msgcls_rate_limited_total',
      help: 'Requests refused with 429 rate_limited, by API key name ("" for limits per client IP).',
      labelNames: ['api_key'],
      registers: [registry],
    });

  const apiKeyGuard = access.apiKeys.size > 0 ? apiKeyHook(access.apiKeys, keyRequests) : undefined;
  const adminGuard =
    adminToken !== undefined
      ? requireBearer(adminToken, { variable: 'ADMIN_TOKEN', realm: 'msg-cls admin' })
      : undefined;

  app.addHook('onRoute', (route: RouteOptions) => {
    const guard = API_KEY_ROUTES.has(route.url) ? apiKeyGuard : isAdminRoute(route.url) ? adminGuard : undefined;
    // First among the route's own hooks: the rate limit (added after) can then key on the API key.
    if (guard) route.onRequest = [guard, ...toArray(route.onRequest)];
    if (EXEMPT_ROUTES.has(route.url)) route.config = { ...route.config, rateLimit: false };
  });

  // The rate limit and CORS are off by default: their plugins load only when configured (~10 ms of
  // every start-up otherwise).
  if (access.rateLimitMax > 0) {
    const windowS = access.rateLimitWindowS;
    const { default: rateLimit } = await import('@fastify/rate-limit');
    await app.register(rateLimit, {
      max: access.rateLimitMax,
      timeWindow: windowS * 1000,
      // Entries for this many clients are kept (least recently used first out): bounded memory.
      cache: 10_000,
      keyGenerator: (request) => {
        const name = (request as KeyedRequest)[kKeyName];
        return name !== undefined ? `key:${name}` : `ip:${request.ip}`;
      },
      onExceeded: (request) => rateLimited?.labels((request as KeyedRequest)[kKeyName] ?? '').inc(),
      errorResponseBuilder: (request, context) =>
        new HttpError(
          429,
          'rate_limited',
          `more than ${access.rateLimitMax} requests in ${windowS} s from this ${
            (request as KeyedRequest)[kKeyName] !== undefined ? 'API key' : 'client'
          } (RATE_LIMIT_MAX): retry after ${context.after}`,
        ),
    });
  }

  if (access.corsOrigins.length > 0) {
    const { default: cors } = await import('@fastify/cors');
    await app.register(cors, {
      origin: access.corsOrigins.includes('*') ? '*' : access.corsOrigins,
      methods: ['GET', 'HEAD', 'POST'],
      allowedHeaders: ['content-type', 'authorization', 'x-api-key', 'x-request-id'],
      exposedHeaders: [
        'x-request-id',
        'retry-after',
        'x-ratelimit-limit',
        'x-ratelimit-remaining',
        'x-ratelimit-reset',
      ],
      maxAge: 600,
    });
  }
}

function toArray<T>(value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

function apiKeyHook(keys: ReadonlyMap<string, string>, counter: Counter | undefined): onRequestHookHandler {
  const match = namedTokenMatcher(keys);
  // Children made once: one label set per configured key, plus the two refusals.
  const accepted = new Map([...keys.keys()].map((name) => [name, counter?.labels(name, 'accepted')]));
  const missing = counter?.labels('', 'missing');
  const invalid = counter?.labels('', 'invalid');
  for (const c of [...accepted.values(), missing, invalid]) c?.inc(0);
  return (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
    const header = request.headers['x-api-key'];
    const given = bearerToken(request.headers.authorization) ?? (typeof header === 'string' ? header : undefined);
    const name = match(given);
    if (name !== undefined) {
      (request as KeyedRequest)[kKeyName] = name;
      accepted.get(name)?.inc();
      return done();
    }
    (given === undefined ? missing : invalid)?.inc();
    reply.header('www-authenticate', 'Bearer realm="msg-cls"');
    done(
      new HttpError(
        401,
        'unauthorized',
        given === undefined
          ? 'this endpoint needs an API key: send the header X-API-Key: <key> or Authorization: Bearer <key> (keys are set in API_KEYS)'
          : 'the API key is not one of those configured (API_KEYS): check the key you send',
      ),
    );
  };
}

/**
 * Serves GET /metrics on its own port (METRICS_PORT), for a Prometheus on the internal network: the
 * main port then has no /metrics at all. Started by the server once the app listens (building an app
 * — tests, `msg-cls doctor` — opens no port); closed with the app's server.
 */
export async function startMetricsServer(
  app: FastifyInstance,
  metrics: Metrics,
  port: number,
  host: string,
): Promise<Server> {
  // Not `import … from 'node:http'`: the ES module view of node:http reads every export, and its lazy
  // ones (WebSocket, fetch's classes) load undici and TLS — ~10 ms of every start-up, for a server
  // that only METRICS_PORT asks for. process.getBuiltinModule gives the CommonJS exports as they are.
  const { createServer } = process.getBuiltinModule('node:http');
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify({ error: 'not_found', detail: 'this port serves only GET /metrics' }));
      return;
    }
    metrics.render().then(
      (text) => {
        res.writeHead(200, { 'content-type': metrics.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      () => {
        res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify({ error: 'internal_error', detail: 'rendering the metrics failed' }));
      },
    );
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`METRICS_PORT=${port}: ${err.message}`)));
    server.listen(port, host, resolve);
  });
  app.server.once('close', () => {
    server.closeAllConnections();
    server.close();
  });
  return server;
}
