// GET /metrics: the golden signals, the model's signals and the process, after real traffic.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { postJson, startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
before(async () => {
  server = await startTestServer({ LOG_LEVEL: 'silent' });
});
after(() => server.close());

async function scrape(): Promise<string> {
  const res = await fetch(`${server.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return res.text();
}

/** Value of the first sample whose name and labels match. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.split(' ').at(-1));
  }
  return undefined;
}

describe('GET /metrics', () => {
  test('exposes every metric the dashboards and alerts use', async () => {
    const text = await scrape();
    for (const name of [
      'http_server_request_duration_seconds',
      'http_server_active_requests',
      'http_server_request_body_size_bytes',
      'http_server_response_body_size_bytes',
      'http_server_open_connections',
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_eventloop_utilization_ratio',
      'msgcls_predictions_total',
      'msgcls_prediction_probability',
      'msgcls_inference_duration_seconds',
      'msgcls_input_chars',
      'msgcls_model_info',
      'msgcls_model_load_total',
    ]) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), `${name} is exposed`);
    }
    assert.equal(
      sample(text, 'msgcls_model_info', { model_name: 'msg_cls', model_version: '1', model_alias: 'champion' }),
      1,
    );
    assert.equal(sample(text, 'msgcls_model_load_total', { result: 'success' }), 1);
    assert.equal(sample(text, 'msgcls_model_load_total', { result: 'failure' }), 0);
    // Series for every label exist from the start, so rate() sees the first prediction.
    for (const label of ['ham', 'spam']) {
      const labels = { model_name: 'msg_cls', model_version: '1', label };
      assert.notEqual(sample(text, 'msgcls_predictions_total', labels), undefined, `${label} counter exists`);
      assert.notEqual(
        sample(text, 'msgcls_prediction_probability_count', labels),
        undefined,
        `${label} histogram exists`,
      );
    }
  });

  test('records requests by method, route template and status, with sub-millisecond buckets', async () => {
    await postJson(`${server.url}/predict`, { text: 'hello world' });
    await postJson(`${server.url}/predict`, { text: '' });
    await fetch(`${server.url}/no/such/path/123`);
    await fetch(`${server.url}/another/unknown`);
    const text = await scrape();
    const count = 'http_server_request_duration_seconds_count';
    assert.equal(
      sample(text, count, { http_request_method: 'POST', http_route: '/predict', http_response_status_code: '200' }),
      1,
    );
    assert.equal(
      sample(text, count, { http_request_method: 'POST', http_route: '/predict', http_response_status_code: '400' }),
      1,
    );
    // Unmatched paths share one label value: no cardinality explosion from scanners.
    assert.equal(sample(text, count, { http_route: 'unmatched', http_response_status_code: '404' }), 2);
    assert.ok(!text.includes('/no/such/path'));
    assert.match(text, /http_server_request_duration_seconds_bucket\{le="0.0005",/);
    assert.match(text, /http_server_request_duration_seconds_bucket\{le="10",/);
    assert.ok((sample(text, 'http_server_request_body_size_bytes_count', { http_route: '/predict' }) ?? 0) >= 1);
    assert.ok(
      (sample(text, 'http_server_response_body_size_bytes_sum', {
        http_route: '/predict',
        http_response_status_code: '200',
      }) ?? 0) > 50,
    );
  });

  test('counts predictions by label and model version, with probability and input length', async () => {
    const before = await scrape();
    const labels = { model_name: 'msg_cls', model_version: '1', label: 'spam' };
    const spamBefore = sample(before, 'msgcls_predictions_total', labels) ?? 0;
    const texts = ['WIN a FREE prize now!!! Click http://win.example.com', 'FREE money, act now, limited offer!!!'];
    const res = await postJson(`${server.url}/predict`, { texts });
    assert.equal(res.status, 200);
    const after = await scrape();
    assert.equal(sample(after, 'msgcls_predictions_total', labels), spamBefore + 2);
    assert.ok((sample(after, 'msgcls_prediction_probability_count', labels) ?? 0) >= 2);
    assert.ok((sample(after, 'msgcls_inference_duration_seconds_count', { model_version: '1' }) ?? 0) >= 1);
    assert.ok((sample(after, 'msgcls_input_chars_sum') ?? 0) >= texts[0].length + texts[1].length);
  });

  test('a client that goes away mid-request is recorded as 499 and leaves no request active', async () => {
    const sock = connect(Number(new URL(server.url).port), '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write(
      'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"te',
    );
    await new Promise((r) => setTimeout(r, 50));
    sock.destroy();
    await new Promise((r) => setTimeout(r, 50));
    const text = await scrape();
    assert.equal(sample(text, 'http_server_request_duration_seconds_count', { http_response_status_code: '499' }), 1);
    // Only the scrape itself is in flight.
    assert.equal(sample(text, 'http_server_active_requests'), 1);
  });

  test('METRICS_ENABLED=false serves no /metrics', async () => {
    const off = await startTestServer({ METRICS_ENABLED: 'false', LOG_LEVEL: 'silent' });
    try {
      assert.equal((await fetch(`${off.url}/metrics`)).status, 404);
      assert.equal((await postJson(`${off.url}/predict`, { text: 'hi there' })).status, 200);
    } finally {
      await off.close();
    }
  });
});
