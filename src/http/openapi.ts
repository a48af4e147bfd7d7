// GET /openapi.json and the interactive docs at GET /docs.
//
// The OpenAPI document is built from the routes' own JSON schemas (collected with Fastify's onRoute
// hook), on the first request for it rather than at start-up: @fastify/swagger + @fastify/swagger-ui
// did the same but added ~100 ms to a 400 ms cold-start budget. The docs page is Swagger UI, served
// from the swagger-ui-dist package's files.

import { createReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { errorSchema } from './errors.ts';

declare module 'fastify' {
  interface FastifySchema {
    /** One line for the API docs. */
    summary?: string;
    description?: string;
    /** Leave the route out of /openapi.json. */
    hide?: boolean;
    /** Media type of a successful answer that is not JSON (e.g. the Prometheus text format). */
    produces?: string;
    /** Document every body property named `label` as one of the served model's labels. */
    labelsFromModel?: boolean;
    /** The operation's id in /openapi.json (for links). */
    operationId?: string;
    /** OpenAPI links per response status: how a response's values feed another operation. */
    links?: Record<string, Record<string, unknown>>;
  }
}

type RouteSchema = {
  summary?: string;
  description?: string;
  hide?: boolean;
  produces?: string;
  labelsFromModel?: boolean;
  operationId?: string;
  links?: Record<string, Record<string, unknown>>;
  body?: unknown;
  response?: Record<string, { description?: string } & Record<string, unknown>>;
};

export type ApiInfo = { title: string; version: string; description: string };

/** A copy of a JSON schema where every property named `label` is restricted to `labels`. */
function withLabels(schema: unknown, labels: readonly string[]): unknown {
  if (Array.isArray(schema)) return schema.map((s) => withLabels(s, labels));
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'properties' && value && typeof value === 'object') {
      out.properties = Object.fromEntries(
        Object.entries(value).map(([name, prop]) => [
          name,
          name === 'label' ? { ...(withLabels(prop, labels) as object), enum: [...labels] } : withLabels(prop, labels),
        ]),
      );
    } else out[key] = withLabels(value, labels);
  }
  return out;
}

const STATUS_TEXT: Record<string, string> = {
  '200': 'OK',
  '202': 'Accepted',
  '4XX': 'Client error: the body says what was wrong and how to fix it',
  '503': 'Not ready, shutting down, or a dependency (the store) is unavailable: retry',
};

// Every operation can answer these, whatever its own schema says: a request the HTTP layer refuses
// (bad headers, unknown method, undecodable body → 4xx) and a request that arrives while the instance
// drains (503 shutting_down).
const COMMON_RESPONSES = { '4XX': errorSchema, '503': errorSchema } as const;

function responseEntry(status: string, schema: { description?: string } & Record<string, unknown>, produces?: string) {
  const { description, ...rest } = schema;
  const ok = status.startsWith('2');
  return {
    description: description ?? STATUS_TEXT[status] ?? 'Response',
    content: ok && produces ? { [produces]: { schema: { type: 'string' } } } : { 'application/json': { schema: rest } },
  };
}

export function buildOpenApi(
  routes: readonly RouteOptions[],
  info: ApiInfo,
  labels?: readonly string[],
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const schema = (route.schema ?? {}) as RouteSchema;
    if (schema.hide) continue;
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).filter((m) => m !== 'HEAD');
    for (const method of methods) {
      const op: Record<string, unknown> = {};
      if (schema.operationId) op.operationId = schema.operationId;
      if (schema.summary) op.summary = schema.summary;
      if (schema.description) op.description = schema.description;
      if (schema.body) {
        const body = schema.labelsFromModel && labels ? withLabels(schema.body, labels) : schema.body;
        op.requestBody = { required: true, content: { 'application/json': { schema: body } } };
      }
      const declared = Object.fromEntries(
        Object.entries(schema.response ?? { 200: {} }).map(([status, s]) => [status.toUpperCase(), s]),
      );
      const all: Record<string, { description?: string } & Record<string, unknown>> = {
        ...COMMON_RESPONSES,
        ...declared,
      };
      op.responses = Object.fromEntries(
        Object.entries(all)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([status, s]) => {
            const entry: Record<string, unknown> = responseEntry(status, s, schema.produces);
            if (schema.links?.[status]) entry.links = schema.links[status];
            return [status, entry];
          }),
      );
      paths[route.url] ??= {};
      paths[route.url][method.toLowerCase()] = op;
    }
  }
  return { openapi: '3.1.0', info, paths };
}

const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>API docs</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui' });</script>
</body>
</html>
`;

const STATIC_FILES: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
};

/**
 * Registers /openapi.json and /docs. Call before the routes to document are added. `labels` gives the
 * served model's labels (undefined while none is loaded); the document follows them.
 */
export function docsRoutes(app: FastifyInstance, info: ApiInfo, labels: () => readonly string[] | undefined): void {
  const routes: RouteOptions[] = [];
  app.addHook('onRoute', (route) => {
    routes.push(route);
  });
  let document: string | undefined;
  let documentLabels: readonly string[] | undefined;
  const hidden = { schema: { hide: true } };

  app.get('/openapi.json', hidden, (_request, reply) => {
    const current = labels();
    if (document === undefined || current !== documentLabels) {
      document = JSON.stringify(buildOpenApi(routes, info, current));
      documentLabels = current;
    }
    return reply.type('application/json; charset=utf-8').send(document);
  });

  app.get('/docs', hidden, (_request, reply) => reply.type('text/html; charset=utf-8').send(DOCS_HTML));

  let assetsDir: string | undefined;
  app.get<{ Params: { file: string } }>('/docs/static/:file', hidden, (request, reply) => {
    const type = STATIC_FILES[request.params.file];
    if (type === undefined) {
      return reply
        .code(404)
        .send({ error: 'not_found', detail: `no docs asset ${request.params.file}`, request_id: request.id });
    }
    assetsDir ??= dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
    return reply
      .type(type)
      .header('cache-control', 'public, max-age=86400')
      .send(createReadStream(join(assetsDir, request.params.file)));
  });
}
