// Traces reach a real OTLP/HTTP receiver (started here) when the standard OTEL_* variables say so.

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { makeRegistry } from '../helpers/registry.ts';
import { postJson, spawnServer } from '../helpers/server.ts';

type OtlpSpan = {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: Record<string, unknown> }[];
};

let receiver: Server;
let endpoint: string;
const spans: OtlpSpan[] = [];
const resources: Record<string, unknown>[] = [];
const protobufBodies: { bytes: number; headers: Record<string, unknown> }[] = [];

before(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      if (req.url === '/v1/traces' && req.headers['content-type']?.startsWith('application/json')) {
        const payload = JSON.parse(body);
        for (const rs of payload.resourceSpans ?? []) {
          resources.push(rs.resource);
          for (const ss of rs.scopeSpans ?? []) spans.push(...(ss.spans ?? []));
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } else if (req.url === '/v1/traces' && req.headers['content-type'] === 'application/x-protobuf') {
        protobufBodies.push({ bytes: Buffer.byteLength(body), headers: req.headers });
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      } else {
        res.writeHead(415).end();
      }
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
});
after(() => new Promise<void>((r) => receiver.close(() => r())));

const attr = (span: OtlpSpan, key: string) => {
  const v = span.attributes.find((a) => a.key === key)?.value;
  return v && (v.stringValue ?? v.intValue ?? v.doubleValue);
};

async function waitFor<T>(fn: () => T | undefined, what: string, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > until)
      throw new Error(`timed out waiting for ${what}; spans: ${spans.map((s) => s.name).join(', ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('OpenTelemetry traces', () => {
  test('a server span per request, an inference child span, a model-load span, ids in the access log', async () => {
    const child = await spawnServer({
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_SERVICE_NAME: 'msg-cls-test',
    });
    try {
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      const res = await postJson(
        `${child.url}/predict?contact=jane.roe@example.org`,
        { texts: ['free prize', 'meeting notes'] },
        { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      );
      assert.equal(res.status, 200);

      const server = await waitFor(
        () => spans.find((s) => s.traceId === traceId && s.name === 'request' && attr(s, 'http.route') === '/predict'),
        'the request span',
      );
      assert.equal(server.kind, 2, 'SERVER span');
      assert.equal(server.parentSpanId, '00f067aa0ba902b7', 'continues the caller’s trace');
      assert.equal(attr(server, 'url.path'), '/predict', 'no query string (it may carry personal data)');
      assert.ok(!JSON.stringify(spans).includes('jane.roe'));
      const inference = await waitFor(
        () => spans.find((s) => s.traceId === traceId && s.name === 'inference'),
        'the inference span',
      );
      assert.equal(attr(inference, 'model.version'), '1');
      assert.equal(Number(attr(inference, 'batch.size')), 2);
      const handler = spans.find((s) => s.spanId === inference.parentSpanId);
      assert.ok(handler && handler.traceId === traceId, 'inference is a child within the request trace');
      await waitFor(() => spans.find((s) => s.name === 'model.load'), 'the model-load span');
      const service = resources[0]?.attributes as { key: string; value: { stringValue?: string } }[];
      assert.equal(service.find((a) => a.key === 'service.name')?.value.stringValue, 'msg-cls-test');

      const access = await child.waitForLog((r) => r.log_type === 'access' && r.route === '/predict');
      assert.equal(access.trace_id, traceId);
      assert.match(String(access.span_id), /^[0-9a-f]{16}$/);
      // Status is recorded on the request span.
      const status = await waitFor(() => attr(server, 'http.response.status_code'), 'the status attribute');
      assert.equal(Number(status), 200);
    } finally {
      child.proc.kill('SIGTERM');
      await child.exited;
    }
  });

  test('http/protobuf by default (the OTLP default), headers from OTEL_EXPORTER_OTLP_HEADERS; unsupported settings warned', async () => {
    const child = await spawnServer({
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: '',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant=msgcls-test',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_TRACES_SAMPLER: 'parentbased_nonsense',
    });
    try {
      await postJson(`${child.url}/predict`, { text: 'free prize' });
      const got = await waitFor(() => protobufBodies[0], 'a protobuf export');
      assert.ok(got.bytes > 50);
      assert.equal(got.headers['x-tenant'], 'msgcls-test');
      const warning = await child.waitForLog((r) => r.tracing === true && r.level === 'warn');
      assert.match(String(warning.msg), /OTEL_TRACES_SAMPLER=parentbased_nonsense is not supported/);
    } finally {
      child.proc.kill('SIGTERM');
      await child.exited;
    }
  });

  test('a hot swap is traced as model.reload, and inference after it carries the new version', async () => {
    const reg = await makeRegistry([{ kind: 'bias', bias: 2 }]);
    const child = await spawnServer({
      MODEL_REGISTRY: reg.root,
      MODEL_POLL_SECONDS: '0',
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
    try {
      await reg.alias('2');
      const r = await fetch(`${child.url}/admin/reload`, { method: 'POST' });
      assert.equal(((await r.json()) as { outcome: string }).outcome, 'swapped');
      const reload = await waitFor(
        () => spans.find((s) => s.name === 'model.reload' && attr(s, 'reload.outcome') === 'swapped'),
        'the model.reload span',
      );
      assert.equal(attr(reload, 'reload.trigger'), 'admin');
      assert.equal(attr(reload, 'reload.from_version'), '1');
      assert.equal(attr(reload, 'model.version'), '2');
      const load = await waitFor(
        () => spans.find((s) => s.name === 'model.load' && s.parentSpanId === reload.spanId),
        'the load of version 2 inside the reload',
      );
      assert.equal(attr(load, 'model.version'), '2');
      const traceId = '5bf92f3577b34da6a3ce929d0e0e4736';
      await postJson(`${child.url}/predict`, { text: 'hello' }, { traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
      const inference = await waitFor(
        () => spans.find((s) => s.traceId === traceId && s.name === 'inference'),
        'the inference span',
      );
      assert.equal(attr(inference, 'model.version'), '2');
    } finally {
      child.proc.kill('SIGTERM');
      await child.exited;
      await reg.remove();
    }
  });

  test('without OTEL endpoint variables, tracing is off', async () => {
    const child = await spawnServer({ OTEL_EXPORTER_OTLP_ENDPOINT: '', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '' });
    try {
      const listening = await child.waitForLog((r) => r.msg === 'listening');
      assert.equal(listening.tracing, false);
      await postJson(`${child.url}/predict`, { text: 'hello' });
      const access = await child.waitForLog((r) => r.log_type === 'access');
      assert.equal(access.trace_id, undefined);
    } finally {
      child.proc.kill('SIGTERM');
      await child.exited;
    }
  });
});
