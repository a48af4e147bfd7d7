// The baseline for `npm run bench`: a bare Fastify route that returns a constant, with the same
// JSON body parsing as the service. Whatever the service costs beyond this is our overhead.

import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.post('/predict', () => ({ label: 'spam', proba: 0.97 }));
await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => app.close().then(() => process.exit(0)));
