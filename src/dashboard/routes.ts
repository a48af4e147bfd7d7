// GET /dashboard: a live page served by the service itself — golden signals, the model, drift,
// online quality and (when two versions run) the rollout — for users who run no Grafana.
//
//   GET  /dashboard              the page (with ADMIN_TOKEN set and no session: a sign-in page, 401)
//   GET  /dashboard/assets/:file its script and styles, and uPlot from node_modules (no CDN)
//   GET  /dashboard/data         the series since ?since=<unix s>, and the state; polled every 2 s
//   POST /dashboard/session      {"token": ADMIN_TOKEN} → an HttpOnly, SameSite=Strict session cookie
//
// The page makes no request to another host and runs under a strict Content-Security-Policy
// (scripts and styles from this origin only, no inline code). It shows aggregates only — never a
// text that was sent for prediction.

import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { bearerToken, tokenChecker } from '../http/auth.ts';
import { HttpError } from '../http/errors.ts';
import type { ServiceState } from '../http/state.ts';
import type { Metrics } from '../monitoring/metrics.ts';
import type { ModelMonitoring } from '../quality/monitoring.ts';
import { SERVICE_NAME, SERVICE_VERSION } from '../version.ts';
import { bucketCounts, createSeries, type Series, toColumns } from './series.ts';

export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const COOKIE = 'msgcls_dashboard';

export type DashboardOptions = {
  state: ServiceState;
  metrics: Metrics | undefined;
  monitoring: ModelMonitoring | undefined;
  adminToken: string | undefined;
  watchdogLimitMs?: number;
  /** The rollout's figures when two versions run (GET /monitoring/rollout's body), else undefined. */
  rollout?: () => Promise<unknown> | undefined;
};

const PAGE_DIR = join(import.meta.dirname, 'page');
const uplotDir = () => join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');

const ASSETS: Record<string, { type: string; path: () => string }> = {
  'dashboard.js': { type: 'text/javascript; charset=utf-8', path: () => join(PAGE_DIR, 'dashboard.js') },
  'dashboard.css': { type: 'text/css; charset=utf-8', path: () => join(PAGE_DIR, 'dashboard.css') },
  'session.js': { type: 'text/javascript; charset=utf-8', path: () => join(PAGE_DIR, 'session.js') },
  'uPlot.iife.min.js': { type: 'text/javascript; charset=utf-8', path: () => join(uplotDir(), 'uPlot.iife.min.js') },
  'uPlot.min.css': { type: 'text/css; charset=utf-8', path: () => join(uplotDir(), 'uPlot.min.css') },
};

function cookieValue(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function dashboardRoutes(app: FastifyInstance, opts: DashboardOptions): Series {
  const { state, monitoring } = opts;
  const series = createSeries({
    registry: opts.metrics?.registry,
    activeRequests: () => opts.metrics?.activeRequests?.() ?? 0,
  });
  app.addHook('onClose', async () => series.stop());

  // The session cookie holds an HMAC of the token, never the token: a leaked cookie does not give
  // the Bearer token for /admin/*, and a new ADMIN_TOKEN invalidates every session.
  const session = opts.adminToken && createHmac('sha256', opts.adminToken).update('msg-cls dashboard').digest('hex');
  const tokenOk = opts.adminToken ? tokenChecker(opts.adminToken) : () => true;
  const sessionOk = session ? tokenChecker(session) : () => true;
  const authorized = (request: FastifyRequest) =>
    !opts.adminToken ||
    sessionOk(cookieValue(request.headers.cookie)) ||
    tokenOk(bearerToken(request.headers.authorization));

  const hidden = { schema: { hide: true } };
  const cache = new Map<string, Buffer>();
  const asset = async (file: string) => {
    let bytes = cache.get(file);
    if (bytes === undefined) {
      bytes = await readFile(ASSETS[file].path());
      cache.set(file, bytes);
    }
    return bytes;
  };
  const html = (reply: FastifyReply, body: string) =>
    reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', DASHBOARD_CSP)
      .header('cache-control', 'no-store')
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .send(body);

  app.get('/dashboard', hidden, (request, reply) => {
    if (!authorized(request)) return html(reply.code(401), signInPage());
    return html(reply, dashboardPage());
  });

  app.get<{ Params: { file: string } }>('/dashboard/assets/:file', hidden, async (request, reply) => {
    const spec = Object.hasOwn(ASSETS, request.params.file) ? ASSETS[request.params.file] : undefined;
    if (spec === undefined) throw new HttpError(404, 'not_found', 'no such dashboard asset; see GET /dashboard');
    return reply
      .type(spec.type)
      .header('cache-control', 'public, max-age=3600')
      .header('x-content-type-options', 'nosniff')
      .send(await asset(request.params.file));
  });

  app.post<{ Body: { token?: unknown } }>('/dashboard/session', hidden, (request, reply) => {
    if (!opts.adminToken || !session) return reply.code(204).send();
    const token = request.body?.token;
    if (typeof token !== 'string' || !tokenOk(token)) {
      throw new HttpError(401, 'unauthorized', 'that is not the ADMIN_TOKEN this service was started with: try again');
    }
    const secure = request.protocol === 'https' ? '; Secure' : '';
    reply.header('set-cookie', `${COOKIE}=${session}; Path=/dashboard; HttpOnly; SameSite=Strict${secure}`);
    return reply.code(204).send();
  });

  // The rollout report reads the store (quality, drift): computed at most every 5 s, whoever polls.
  let rolloutCache: { at: number; value: Promise<unknown> } | undefined;
  const rollout = () => {
    const now = Date.now();
    if (rolloutCache === undefined || now - rolloutCache.at > 5000) {
      const value = Promise.resolve(opts.rollout?.()).catch(() => undefined);
      rolloutCache = { at: now, value };
    }
    return rolloutCache.value;
  };

  app.get<{ Querystring: { since?: string } }>('/dashboard/data', hidden, async (request, reply) => {
    if (!authorized(request)) {
      throw new HttpError(401, 'unauthorized', 'the dashboard needs ADMIN_TOKEN: sign in at /dashboard');
    }
    const since = Number(request.query.since ?? 0);
    const full = !(since > 0);
    const bounds = series.bounds();
    const fineAll = series.fine();
    const m = state.model;
    reply.header('cache-control', 'no-store');
    return {
      now: Date.now() / 1000,
      fine: toColumns(series.fine(full ? 0 : since), bounds),
      coarse: full ? toColumns(series.coarse(), bounds) : undefined,
      probability: bucketCounts(fineAll, bounds.proba, (s) => s.proba),
      input_chars: bucketCounts(fineAll, bounds.chars, (s) => s.chars),
      metrics_enabled: opts.metrics !== undefined,
      state: {
        service: { name: SERVICE_NAME, version: SERVICE_VERSION, node: process.version },
        phase: state.phase,
        reason: state.reason,
        uptime_s: Math.round((Date.now() - state.startedAt) / 1000),
        model: m && {
          name: m.ref.name,
          version: m.ref.version,
          alias: m.ref.alias ?? null,
          loaded_at: m.loadedAt.toISOString(),
          labels: m.classifier.labels,
        },
        store: monitoring?.summary() ?? { status: 'off' },
        watchdog_limit_ms: opts.watchdogLimitMs ?? null,
      },
      drift: monitoring?.drift() ?? null,
      quality: monitoring?.quality?.latest() ?? null,
      rollout: (await rollout()) ?? null,
    };
  });

  return series;
}

const head = (title: string) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard/assets/uPlot.min.css?v=${SERVICE_VERSION}">
<link rel="stylesheet" href="/dashboard/assets/dashboard.css?v=${SERVICE_VERSION}">
</head>`;

function signInPage(): string {
  return `${head('msg-cls dashboard — sign in')}
<body>
<main class="signin">
<h1>msg-cls dashboard</h1>
<p>This service has an ADMIN_TOKEN: enter it to see the dashboard. It is kept only as a session cookie for this page.</p>
<form id="signin">
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
<p id="signin-error" role="alert"></p>
</form>
</main>
<script src="/dashboard/assets/session.js?v=${SERVICE_VERSION}"></script>
</body>
</html>`;
}

function dashboardPage(): string {
  const chart = (id: string, title: string) =>
    `<section class="panel chart" aria-labelledby="${id}-title"><header><h3 id="${id}-title">${title}</h3><button type="button" class="png" data-chart="${id}" aria-label="Download the ${title} chart as PNG">PNG</button></header><div id="${id}" class="plot" role="img" aria-label="${title} chart"></div></section>`;
  return `${head('msg-cls dashboard')}
<body>
<header class="top">
<h1>msg-cls <span id="model-title"></span></h1>
<nav aria-label="Dashboard controls">
<label for="range">Range</label>
<select id="range"><option value="fine">15 minutes (1 s)</option><option value="coarse">24 hours (1 min)</option></select>
<button type="button" id="export-json">Download data (JSON)</button>
<a href="/docs">API docs</a>
</nav>
</header>
<main>
<section class="panel state" aria-labelledby="state-title">
<h2 id="state-title">State</h2>
<p id="health-words" class="words">Loading…</p>
<dl id="state-list"></dl>
</section>
<section class="panel try" aria-labelledby="try-title">
<h2 id="try-title">Try it</h2>
<form id="try-form">
<label for="try-text">Text to classify</label>
<textarea id="try-text" rows="3" maxlength="20000" required>Congratulations! You won a FREE prize, claim now</textarea>
<div class="row"><button type="submit">Classify</button><span id="try-result" role="status" aria-live="polite"></span></div>
<div id="try-key-row" class="row" hidden><label for="try-key">API key</label><input id="try-key" type="password" autocomplete="off"></div>
</form>
</section>
<h2 class="group">Golden signals</h2>
<div class="grid">
${chart('c-rps', 'Requests/s by status class')}
${chart('c-err', 'Error ratio (5xx share)')}
${chart('c-lat', 'Latency p50 / p95 / p99 (ms)')}
${chart('c-sat', 'Active requests and event-loop delay (ms)')}
${chart('c-res', 'CPU (%) and RSS (MB)')}
</div>
<h2 class="group">Model</h2>
<div class="grid">
${chart('c-pred', 'Predictions/s by version and label')}
${chart('c-proba', 'Probability of the predicted label (last 15 min)')}
${chart('c-inf', 'Inference latency p50 / p95 (ms)')}
${chart('c-chars', 'Input length p50 (characters)')}
<section class="panel" aria-labelledby="drift-title"><h3 id="drift-title">Drift (PSI per feature)</h3><div id="drift"></div></section>
<section class="panel" aria-labelledby="quality-title"><h3 id="quality-title">Online quality (from feedback)</h3><div id="quality"></div></section>
<section class="panel" id="rollout-panel" aria-labelledby="rollout-title" hidden><h3 id="rollout-title">Rollout</h3><div id="rollout"></div></section>
</div>
</main>
<footer><p>Updated every 2 s from this instance's own counters. No request text is shown here.</p></footer>
<script src="/dashboard/assets/uPlot.iife.min.js?v=${SERVICE_VERSION}"></script>
<script src="/dashboard/assets/dashboard.js?v=${SERVICE_VERSION}"></script>
</body>
</html>`;
}
