// POST /feedback and GET /monitoring/quality on a real service with a real SQLite file: labels are
// stored before the 2xx, bad feedback is a 4xx that changes nothing, the token is enforced, and the
// figures follow the labels.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { json, postJson, startTestServer, type TestServer } from '../helpers/server.ts';

const dir = mkdtempSync(join(tmpdir(), 'msgcls-feedback-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const TOKEN = 'feedback-token-for-tests-0123456789';

/** Rows of the store's file, read directly (not through the service). */
function rows(file: string, sql: string): Record<string, unknown>[] {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return db
      .prepare(sql)
      .all()
      .map((r) => ({ ...r }));
  } finally {
    db.close();
  }
}

async function predict(url: string, body: unknown, requestId?: string): Promise<string> {
  const r = await postJson(`${url}/predict`, body, requestId ? { 'x-request-id': requestId } : {});
  assert.equal(r.status, 200, r.text);
  return r.json.prediction_id;
}

describe('POST /feedback with SQLite', () => {
  let server: TestServer;
  let file: string;
  const auth = { authorization: `Bearer ${TOKEN}` };
  const feedback = (body: unknown, headers: Record<string, string> = auth) =>
    postJson(`${server.url}/feedback`, body, headers);
  const stored = () =>
    rows(file, 'SELECT prediction_id, item, label FROM msgcls_feedback ORDER BY prediction_id, item');

  before(async () => {
    file = join(dir, 'feedback.db');
    server = await startTestServer({
      STORE_URL: `sqlite:${file}`,
      // A flush only on demand: feedback must find predictions that are still queued.
      STORE_FLUSH_MS: '60000',
      FEEDBACK_TOKEN: TOKEN,
      FEEDBACK_MAX_BATCH: '5',
      QUALITY_REFRESH_S: '3600',
    });
  });
  after(() => server.close());

  test('a label right after its prediction is committed before the 200 (the queue is flushed first)', async () => {
    const id = await predict(server.url, { text: 'WINNER! Claim your free prize now, call 09061701461' });
    assert.equal(server.monitoring.writer?.isPending(id, 0), true, 'the prediction is still queued');
    const r = await feedback({ prediction_id: id, label: 'spam' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.results, [
      { prediction_id: id, index: 0, label: 'spam', status: 'recorded', model_version: '1', model_role: 'champion' },
    ]);
    assert.equal(r.json.recorded, 1);
    assert.deepEqual(rows(file, `SELECT label FROM msgcls_feedback WHERE prediction_id = '${id}'`), [
      { label: 'spam' },
    ]);
  });

  test('repeating a label is idempotent; a different label replaces it (the latest wins)', async () => {
    const id = await predict(server.url, { text: 'Are we still on for lunch tomorrow?' });
    assert.equal((await feedback({ prediction_id: id, label: 'ham' })).json.results[0].status, 'recorded');
    const again = await feedback({ prediction_id: id, label: 'ham' });
    assert.equal(again.status, 200);
    assert.equal(again.json.results[0].status, 'unchanged');
    const changed = await feedback({ prediction_id: id, label: 'spam' });
    assert.equal(changed.json.results[0].status, 'updated');
    assert.deepEqual(rows(file, `SELECT label FROM msgcls_feedback WHERE prediction_id = '${id}'`), [
      { label: 'spam' },
    ]);
  });

  test('a batch labels the texts of a batch request by index', async () => {
    const id = await predict(server.url, { texts: ['free money now!!!', 'see you at 5', 'URGENT reply now'] });
    const r = await feedback({
      items: [
        { prediction_id: id, index: 0, label: 'spam' },
        { prediction_id: id, index: 1, label: 'ham' },
        { prediction_id: id, index: 2, label: 'spam' },
      ],
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.recorded, 3);
    assert.deepEqual(
      rows(file, `SELECT item, label FROM msgcls_feedback WHERE prediction_id = '${id}' ORDER BY item`),
      [
        { item: 0, label: 'spam' },
        { item: 1, label: 'ham' },
        { item: 2, label: 'spam' },
      ],
    );
  });

  test('bad feedback gets a clear 4xx and changes nothing', async () => {
    const id = await predict(server.url, { text: 'Meeting moved to Thursday' });
    const before = stored();
    const cases: [string, unknown, Record<string, string>, number, string, RegExp][] = [
      ['no token', { prediction_id: id, label: 'ham' }, {}, 401, 'unauthorized', /Authorization: Bearer/],
      [
        'wrong token',
        { prediction_id: id, label: 'ham' },
        { authorization: 'Bearer nope' },
        401,
        'unauthorized',
        /right token/,
      ],
      ['malformed JSON', '{"request_id": "x", "label": ', auth, 400, 'malformed_json', /not valid JSON/],
      ['not an object', '[1, 2]', auth, 400, 'invalid_type', /must be a JSON object/],
      [
        'label of the wrong type',
        { prediction_id: id, label: 1 },
        auth,
        400,
        'invalid_type',
        /body.label must be of type string/,
      ],
      [
        'index of the wrong type',
        { prediction_id: id, index: '0', label: 'ham' },
        auth,
        400,
        'invalid_type',
        /integer/,
      ],
      ['negative index', { prediction_id: id, index: -1, label: 'ham' }, auth, 400, 'out_of_range', /at least 0/],
      ['missing label', { prediction_id: id }, auth, 400, 'missing_field', /"label"/],
      ['unknown label', { prediction_id: id, label: 'eggs' }, auth, 400, 'unknown_label', /one of ham, spam/],
      ['unknown field', { prediction_id: id, label: 'ham', user: 'x' }, auth, 400, 'unknown_field', /"user"/],
      [
        'bad request id',
        { request_id: 'has spaces', label: 'ham' },
        auth,
        400,
        'invalid_format',
        /as POST \/predict returned/,
      ],
      [
        'both shapes (empty items)',
        { prediction_id: id, label: 'ham', items: [] },
        auth,
        400,
        'ambiguous_request',
        /not both/,
      ],
      [
        'both shapes, non-empty',
        { prediction_id: id, label: 'ham', items: [{ prediction_id: id, label: 'ham' }] },
        auth,
        400,
        'ambiguous_request',
        /not both/,
      ],
      [
        'huge batch',
        { items: Array.from({ length: 6 }, () => ({ prediction_id: id, label: 'ham' })) },
        auth,
        413,
        'batch_too_large',
        /more than 5 items/,
      ],
      [
        'unknown request id',
        { request_id: 'never-predicted', label: 'ham' },
        auth,
        404,
        'unknown_request_id',
        /never-predicted/,
      ],
      ['unknown index', { prediction_id: id, index: 3, label: 'ham' }, auth, 404, 'unknown_request_id', /index 3/],
      [
        'a batch with one unknown id',
        {
          items: [
            { prediction_id: id, label: 'ham' },
            { request_id: 'never-predicted', label: 'ham' },
          ],
        },
        auth,
        404,
        'unknown_request_id',
        /nothing was recorded/,
      ],
      [
        'a batch with one bad label',
        {
          items: [
            { prediction_id: id, label: 'ham' },
            { prediction_id: id, label: 'HAM' },
          ],
        },
        auth,
        400,
        'unknown_label',
        /body.items.1.label/,
      ],
    ];
    for (const [name, body, headers, status, error, detail] of cases) {
      const r = await feedback(body, headers);
      assert.equal(r.status, status, `${name}: ${r.text}`);
      assert.equal(r.json?.error, error, `${name}: ${r.text}`);
      assert.match(r.json.detail, detail, name);
      assert.ok(r.json.request_id, `${name}: the error carries the request id`);
    }
    const big = await postJson(`${server.url}/feedback`, JSON.stringify({ items: 'x'.repeat(2_000_000) }), auth);
    assert.equal(big.status, 413);
    assert.deepEqual(stored(), before, 'no bad request changed the stored labels');
    // And the service still takes good feedback afterwards.
    assert.equal((await feedback({ prediction_id: id, label: 'ham' })).status, 200);
  });

  test("a client's X-Request-Id is for correlation only: each prediction is stored under a prediction_id of ours", async () => {
    const written = async () =>
      Number(/msgcls_store_written_records_total (\d+)/.exec(await (await fetch(`${server.url}/metrics`)).text())?.[1]);
    const before = await written();
    const a = await postJson(`${server.url}/predict`, { text: 'first' }, { 'x-request-id': 'client-7' });
    const b = await postJson(`${server.url}/predict`, { text: 'second' }, { 'x-request-id': 'client-7' });
    for (const r of [a, b]) {
      assert.equal(r.json.request_id, 'client-7', 'the client id is echoed for correlation');
      assert.match(r.json.prediction_id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
    assert.notEqual(a.json.prediction_id, b.json.prediction_id);
    assert.equal(await server.monitoring.writer?.flush(5000), true);
    const ids = [a.json.prediction_id, b.json.prediction_id];
    assert.equal(
      rows(
        file,
        `SELECT prediction_id FROM msgcls_predictions WHERE prediction_id IN ('${ids.join("','")}', 'client-7')`,
      ).length,
      2,
      'two rows, neither keyed by the client id',
    );
    assert.equal((await written()) - before, 2, 'the counter counts rows really written');
    const byClientId = await feedback({ request_id: 'client-7', label: 'ham' });
    assert.equal(byClientId.status, 404, 'a client id names no prediction');
    const ok = await feedback({ items: ids.map((id) => ({ prediction_id: id, label: 'ham' })) });
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(
      ok.json.results.map((r: { prediction_id: string }) => r.prediction_id),
      ids,
    );
  });

  test('without X-Request-Id, request_id is the prediction_id, and /feedback takes it as request_id too (earlier clients)', async () => {
    const r = await postJson(`${server.url}/predict`, { text: 'hello there' });
    assert.equal(r.json.request_id, r.json.prediction_id);
    const f = await feedback({ request_id: r.json.request_id, label: 'ham' });
    assert.equal(f.status, 200, f.text);
    for (const body of [
      { request_id: 'other', prediction_id: r.json.prediction_id, label: 'ham' },
      { items: [{ request_id: r.json.request_id, prediction_id: r.json.prediction_id, label: 'ham' }] },
    ]) {
      const clash = await feedback(body);
      assert.equal(clash.status, 400, clash.text);
      assert.equal(clash.json.error, 'ambiguous_request');
      assert.match(clash.json.detail, /send only the prediction_id/);
    }
  });

  test('a client X-Request-Id holding personal data is replaced by one of ours, in the response and the header', async () => {
    const r = await postJson(`${server.url}/predict`, { text: 'hi' }, { 'x-request-id': 'rid.leak@example.com' });
    assert.equal(r.status, 200);
    assert.notEqual(r.json.request_id, 'rid.leak@example.com');
    assert.equal(r.json.request_id, r.json.prediction_id);
    assert.equal(r.headers.get('x-request-id'), r.json.request_id);
  });

  test('GET /monitoring/quality reports the figures of the stored labels, and the gauges follow', async () => {
    const q = await json(await fetch(`${server.url}/monitoring/quality`));
    assert.equal(q.store, 'sqlite');
    assert.deepEqual(q.windows, { time: { minutes: 1440 }, count: { size: 1000 } });
    assert.equal(q.models.length, 1);
    const m = q.models[0];
    assert.equal(m.model_name, 'msg_cls');
    const labelled = stored().length;
    for (const w of ['time', 'count']) {
      const f = m.windows[w];
      assert.equal(f.labelled, labelled, `${w} window`);
      const cells = Object.values(f.confusion as Record<string, Record<string, number>>).flatMap((row) =>
        Object.values(row),
      );
      assert.equal(
        cells.reduce((a, b) => a + b, 0),
        labelled,
      );
      const tp = f.confusion.spam?.spam ?? 0;
      const predictedSpam = Object.values((f.confusion.spam ?? {}) as Record<string, number>).reduce(
        (a, b) => a + b,
        0,
      );
      assert.equal(f.labels.spam.precision, predictedSpam > 0 ? tp / predictedSpam : null);
      assert.ok(f.label_delay_seconds.mean >= 0 && f.label_delay_seconds.max >= f.label_delay_seconds.mean);
    }
    await server.monitoring.quality?.compute();
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(
      metrics,
      new RegExp(
        `msgcls_online_labelled_predictions\\{model_name="msg_cls",model_version="1",window="count"\\} ${labelled}\\n`,
      ),
    );
    assert.match(
      metrics,
      /msgcls_online_precision\{model_name="msg_cls",model_version="1",label="spam",window="time"\} /,
    );
    assert.match(metrics, /msgcls_feedback_labels_total\{result="recorded"\} [1-9]/);
    assert.match(metrics, /msgcls_store_up\{backend="sqlite"\} 1/);
  });
});

describe('what is stored of the text', () => {
  const SECRET = 'Reach me at jane.doe@example.org or +1 415 555 0132 about the prize';

  for (const storeText of [false, true]) {
    test(`STORE_TEXT=${storeText}: ${storeText ? 'only the anonymised text' : 'no text at all'}`, async () => {
      const file = join(dir, `text-${storeText}.db`);
      const server = await startTestServer({ STORE_URL: `sqlite:${file}`, STORE_TEXT: String(storeText) });
      try {
        const id = await predict(server.url, { text: SECRET });
        assert.equal(await server.monitoring.writer?.flush(5000), true);
        const [row] = rows(
          file,
          `SELECT text, text_length, token_count, score FROM msgcls_predictions WHERE prediction_id = '${id}'`,
        );
        assert.equal(row.text_length, SECRET.length);
        assert.ok(Number(row.token_count) > 5);
        assert.ok(Number(row.score) > 0 && Number(row.score) < 1);
        if (storeText) assert.equal(row.text, 'Reach me at <EMAIL> or <PHONE> about the prize');
        else assert.equal(row.text, null);
      } finally {
        await server.close();
      }
      // Nowhere in the database files: not in the table, the WAL, or a free page.
      for (const suffix of ['', '-wal', '-shm']) {
        let bytes: Buffer;
        try {
          bytes = readFileSync(`${file}${suffix}`);
        } catch {
          continue;
        }
        for (const needle of ['jane.doe@example.org', '555 0132']) {
          assert.equal(bytes.includes(needle), false, `${needle} found in ${file}${suffix}`);
        }
      }
    });
  }
});

describe('without a store (STORE_URL=off)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ STORE_URL: 'off' });
  });
  after(() => server.close());

  test('feedback and quality answer 503 with what to configure; /health says off; drift still works', async () => {
    const id = await predict(server.url, { text: 'hello' });
    const r = await postJson(`${server.url}/feedback`, { prediction_id: id, label: 'ham' });
    assert.equal(r.status, 503);
    assert.equal(r.json.error, 'store_off');
    assert.match(r.json.detail, /set STORE_URL/);
    const q = await fetch(`${server.url}/monitoring/quality`);
    assert.equal(q.status, 503);
    assert.match((await json(q)).detail, /STORE_URL/);
    const h = await json(await fetch(`${server.url}/health`));
    assert.equal(h.status, 'ok');
    assert.deepEqual(h.store, { status: 'off' });
    const d = await json(await fetch(`${server.url}/monitoring/drift`));
    assert.equal(d.window.predictions, 1);
  });
});

describe('records dropped under batch load', () => {
  test('/health turns degraded while records are dropped, says why, and the counter counts them', async () => {
    const file = join(dir, 'drops.db');
    // A queue of 100 records, written only on demand: one batch of 256 texts overflows it.
    const server = await startTestServer({
      STORE_URL: `sqlite:${file}`,
      STORE_QUEUE_SIZE: '100',
      STORE_FLUSH_MS: '60000',
    });
    try {
      const h0 = await json(await fetch(`${server.url}/health`));
      assert.equal(h0.store.status, 'ok');
      const r = await postJson(`${server.url}/predict`, { texts: Array.from({ length: 256 }, (_, i) => `hello ${i}`) });
      assert.equal(r.status, 200, 'predictions are still served');
      const h = await json(await fetch(`${server.url}/health`));
      assert.equal(h.status, 'degraded');
      assert.match(h.reason, /prediction records are being dropped/);
      assert.equal(h.store.status, 'degraded');
      assert.equal(h.store.last_error.what, 'records dropped (queue_full)');
      assert.match(h.store.last_error.message, /156 prediction records dropped/);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(metrics, /msgcls_store_dropped_records_total\{reason="queue_full"\} 156\n/);
      assert.match(metrics, /msgcls_store_up\{backend="sqlite"\} 1/, 'the store itself works');
      assert.equal(typeof h.store.size_budget_bytes, 'number');
    } finally {
      await server.close();
    }
  });
});
