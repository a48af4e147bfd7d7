// Doctor rule: fly.toml [metrics] — Fly's managed Prometheus scrapes a path the app serves, on the port
// it serves it on (the main port, or METRICS_PORT), and gets an answer without a token: Fly's scraper
// sends none, so with ADMIN_TOKEN set (which protects /metrics on the main port) it gets 401.

import { type Add, collect, type DoctorContext, type Rule, type Table, tables } from '../context.ts';

/** The internal port the fixes suggest (what deploy/README.md and fly.toml use). */
export const SUGGESTED_METRICS_PORT = 9091;

const MOVE_FIX = `set METRICS_PORT = "${SUGGESTED_METRICS_PORT}" in [env] and [metrics] port = ${SUGGESTED_METRICS_PORT}: /metrics then moves to that port, which Fly's scraper reaches on the private network without a token and the internet does not (only internal_port is routed)`;

export const flyMetricsRules: Rule = (ctx) => {
  const { out, add } = collect();
  if (!ctx.fly) return out;
  const metrics = tables(ctx.fly.metrics);
  const separate = ctx.config !== undefined && ctx.config.access.metricsPort > 0;
  if (metrics.length === 0) {
    add(
      'info',
      'no-metrics',
      'fly.toml',
      'no [metrics]: Fly does not scrape /metrics into its managed Prometheus',
      separate
        ? `add [metrics] port = ${ctx.config?.access.metricsPort}, path = "/metrics"`
        : `add [metrics] with path = "/metrics"; ${MOVE_FIX}`,
    );
  }
  for (const m of metrics) checkOne(m, ctx, add);
  return out;
};

function checkOne(m: Table, ctx: DoctorContext, add: Add): void {
  const F = 'fly.toml';
  const path = typeof m.path === 'string' ? m.path : '/metrics';
  const config = ctx.config;
  const metricsPort = config?.access.metricsPort ?? 0;
  const listen = ctx.listenPort;

  // Where /metrics is: on METRICS_PORT (a server that answers GET /metrics only) or on the main port.
  if (config && !config.metricsEnabled) {
    add(
      'error',
      'metrics-path-not-served',
      F,
      `[metrics] scrapes ${path}, but METRICS_ENABLED=false: the app serves no metrics, nothing is scraped`,
      'remove METRICS_ENABLED=false from [env] (or the Dockerfile ENV), or remove [metrics]',
    );
    return;
  }
  const served = metricsPort > 0 ? path.split('?')[0] === '/metrics' : ctx.serves(path);
  if (!served) {
    add(
      'error',
      'metrics-path-not-served',
      F,
      `[metrics] path ${path} is not served${metricsPort > 0 ? ` on METRICS_PORT=${metricsPort}, which serves only /metrics` : ' by the app'} (404): nothing is scraped`,
      path === '/metrics'
        ? 'this version of msg-cls has no /metrics route: upgrade it, or remove [metrics]'
        : 'set path = "/metrics"',
    );
  }

  if (m.port !== undefined) {
    const port = Number(m.port);
    if (metricsPort > 0 && port !== metricsPort) {
      add(
        'error',
        'metrics-port-mismatch',
        F,
        port === listen
          ? `[metrics] port = ${m.port} is the main port, which has no /metrics while METRICS_PORT=${metricsPort} is set (404): nothing is scraped`
          : `[metrics] port = ${m.port} but /metrics is served on METRICS_PORT=${metricsPort}`,
        `set port = ${metricsPort}`,
      );
      return;
    }
    if (metricsPort === 0 && listen !== undefined && port !== listen) {
      add(
        'error',
        'metrics-port-mismatch',
        F,
        `[metrics] port = ${m.port} but the app serves /metrics on the port it listens on, ${listen} (METRICS_PORT is not set)`,
        `set port = ${listen}, or ${MOVE_FIX.replaceAll(String(SUGGESTED_METRICS_PORT), String(port))}`,
      );
      return;
    }
  }

  // On the main port, /metrics is behind ADMIN_TOKEN once it is set — and Fly's scraper sends no token.
  if (metricsPort === 0 && served) {
    const inEnv = config?.adminToken !== undefined || (ctx.env.ADMIN_TOKEN ?? '').trim() !== '';
    const tokenIn = inEnv ? 'the environment' : ctx.secretNames.includes('ADMIN_TOKEN') ? 'the secrets' : undefined;
    if (tokenIn !== undefined) {
      add(
        'error',
        'metrics-needs-token',
        F,
        `ADMIN_TOKEN is set (in ${tokenIn}), so /metrics on the main port answers 401 without it — and Fly's scraper sends no token: nothing is scraped`,
        MOVE_FIX,
      );
    } else {
      add(
        'warning',
        'metrics-on-main-port',
        F,
        "[metrics] scrapes /metrics on the main port: once ADMIN_TOKEN is set as a Fly secret (this check cannot see secrets; pass --secrets NAMES from `fly secrets list`), Fly's scraper, which sends no token, gets 401 and nothing is scraped; while it is not set, anyone on the internet can read /metrics",
        MOVE_FIX,
      );
    }
  }
}
