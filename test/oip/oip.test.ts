// The Open Inference Protocol with a real client: NVIDIA's tritonclient[http] from PyPI (the client of
// Triton, and of KServe/MLServer's v2 protocol), run against our server on an ephemeral port.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { pythonPath } from '../helpers/python.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const run = promisify(execFile);
const SCRIPT = new URL('./tritonclient_check.py', import.meta.url).pathname;

describe('Open Inference Protocol v2 with tritonclient', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  test('health, metadata, inference (JSON and binary tensors, [N] and [N,1]), requested outputs, errors', async () => {
    const hostPort = new URL(server.url).host;
    const { stdout } = await run(pythonPath(), [SCRIPT, hostPort, 'msg_cls'], { timeout: 60_000 });
    const seen = JSON.parse(stdout.trim().split('\n').at(-1) as string);
    // The four encodings give the same answer, and it is the same as POST /predict's.
    const answers = Object.values(seen.results) as { labels: string[]; probabilities: number[][] }[];
    assert.equal(answers.length, 4);
    const res = await fetch(`${server.url}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        texts: ['WINNER!! Claim your free prize now, call 0800 123 456', 'are we still on for lunch tomorrow?'],
      }),
    });
    const predict = (await res.json()) as { predictions: { label: string; probabilities: Record<string, number> }[] };
    for (const a of answers) {
      assert.deepEqual(
        a.labels,
        predict.predictions.map((p) => p.label),
      );
      for (let i = 0; i < 2; i++) {
        assert.ok(Math.abs(a.probabilities[i][1] - predict.predictions[i].probabilities.spam) < 1e-6);
      }
    }
    assert.equal(seen.errors.unknown_model.status, '404');
    assert.match(seen.errors.unknown_model.message, /no model "no_such_model"/);
    assert.equal(seen.errors.unknown_version.status, '404');
    assert.equal(seen.errors.unknown_output.status, '400');
    assert.match(seen.errors.unknown_output.message, /no output "nope"/);
    assert.equal(seen.errors.wrong_datatype.status, '400');
    assert.match(seen.errors.wrong_datatype.message, /send the texts as BYTES/);
    // Every inference went through the data plane: counted like /predict's (2 texts × 7 calls, and /predict's 2).
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const total = [...metrics.matchAll(/^msgcls_predictions_total\{[^}]*role="champion"[^}]*\} (\d+)/gm)].reduce(
      (a, m) => a + Number(m[1]),
      0,
    );
    assert.equal(total, 2 * 7 + 2, 'OIP and /predict predictions are counted together');
  });
});
