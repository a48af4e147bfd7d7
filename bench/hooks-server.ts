// A bare Fastify route (as bench/bare-server.ts) with one overload or access component added, chosen
// by HOOKS_VARIANT, so that bench/hooks.ts can price each on the hot path.

import helmet from '@fastify/helmet';
import underPressure from '@fastify/under-pressure';
import Fastify from 'fastify';
import { guardAccess } from '../src/http/access.ts';
import { securityHeaders } from '../src/http/headers.ts';
import { DEFAULT_LIMITS, limitLoad } from '../src/http/limits.ts';
import { API_KEY } from './lib.ts';

const variant = process.env.HOOKS_VARIANT ?? 'bare';
const app = Fastify({ logger: false });
const parts = new Set(variant === 'ours' ? ['shed', 'headers', 'api-key', 'rate-limit'] : [variant]);

if (parts.has('shed')) limitLoad(app, DEFAULT_LIMITS, { inFlight: () => 1 });
if (parts.has('under-pressure')) {
  await app.register(underPressure, {
    maxEventLoopDelay: 200,
    maxHeapUsedBytes: 160 * 1024 * 1024,
    sampleInterval: 500,
  });
}
if (parts.has('headers')) securityHeaders(app);
if (parts.has('helmet')) await app.register(helmet);
if (parts.has('api-key') || parts.has('rate-limit')) {
  await guardAccess(app, {
    access: {
      apiKeys: parts.has('api-key') ? new Map([['bench', API_KEY]]) : new Map(),
      rateLimitMax: parts.has('rate-limit') ? 1_000_000_000 : 0,
      rateLimitWindowS: 60,
      corsOrigins: [],
      metricsPort: 0,
    },
    adminToken: undefined,
    registry: undefined,
  });
}
app.post('/predict', () => ({ label: 'spam', proba: 0.97 }));
await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => app.close().then(() => process.exit(0)));
