// The inference span of an ONNX (asynchronous) prediction: a child of the request, within its trace,
// ended after the run — sent to a real OTLP/HTTP receiver started here.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pythonFixture, registryWith } from '../helpers/model-fixtures.ts';
import { postJson, spawnServer } from '../helpers/server.ts';

type OtlpSpan = {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: { key: string; value: Record<string, unknown> }[];
};

let receiver: Server;
let endpoint: string;
let registry: string;
const spans: OtlpSpan[] = [];

before(async () => {
  registry = await registryWith('spam_onnx', join(await pythonFixture('sklearn_onnx.py'), 'binary'));
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      for (const rs of JSON.parse(body).resourceSpans ?? [])
        for (const ss of rs.scopeSpans ?? []) spans.push(...(ss.spans ?? []));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
});
after(async () => {
  await new Promise<void>((r) => receiver.close(() => r()));
  await rm(registry, { recursive: true, force: true });
});

test('an ONNX batch is one inference span, a child within the request trace', async () => {
  const child = await spawnServer({
    MODEL_REGISTRY: registry,
    MODEL_NAME: 'spam_onnx',
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '100',
  });
  try {
    const traceId = '5bf92f3577b34da6a3ce929d0e0e4736';
    const res = await postJson(
      `${child.url}/predict`,
      { texts: ['free prize', 'meeting notes', 'call me'] },
      { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    );
    assert.equal(res.status, 200);
    let inference: OtlpSpan[] = [];
    for (let i = 0; i < 200 && inference.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      inference = spans.filter((s) => s.traceId === traceId && s.name === 'inference');
    }
    assert.equal(inference.length, 1, `spans: ${spans.map((s) => s.name).join(', ')}`);
    const span = inference[0];
    const attr = (k: string) => span.attributes.find((a) => a.key === k)?.value;
    assert.equal(Number(attr('batch.size')?.intValue), 3);
    assert.equal(attr('model.name')?.stringValue, 'spam_onnx');
    assert.ok(BigInt(span.endTimeUnixNano) > BigInt(span.startTimeUnixNano));
    const parent = spans.find((s) => s.spanId === span.parentSpanId);
    assert.ok(parent && parent.traceId === traceId, 'a child within the request trace');
  } finally {
    child.proc.kill('SIGTERM');
    await child.exited;
  }
});
