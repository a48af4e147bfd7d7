// GET / — where to go from here: a short page with links for a browser, the same links as JSON for
// anything else (curl, scripts).

import type { FastifyInstance } from 'fastify';
import { SERVICE_NAME, SERVICE_VERSION } from '../../version.ts';

const LINKS = {
  dashboard: '/dashboard',
  docs: '/docs',
  openapi: '/openapi.json',
  predict: '/predict',
  health: '/health',
  metrics: '/metrics',
} as const;

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${SERVICE_NAME}</title></head>
<body><main><h1>${SERVICE_NAME} ${SERVICE_VERSION}</h1>
<ul>
<li><a href="/dashboard">Live dashboard</a>: golden signals, the model, drift and online quality</li>
<li><a href="/docs">API docs</a> (<a href="/openapi.json">OpenAPI</a>)</li>
<li><a href="/health">Health</a> and <a href="/metrics">Prometheus metrics</a></li>
</ul></main></body></html>`;

export function rootRoutes(app: FastifyInstance): void {
  app.get('/', { schema: { hide: true } }, (request, reply) => {
    if ((request.headers.accept ?? '').includes('text/html')) {
      return reply
        .type('text/html; charset=utf-8')
        .header('content-security-policy', "default-src 'none'; base-uri 'none'; frame-ancestors 'none'")
        .send(PAGE);
    }
    return { name: SERVICE_NAME, version: SERVICE_VERSION, links: LINKS };
  });
}
