// Durability with SQLite: the service is killed with SIGKILL right after acknowledging feedback; every
// acknowledged label is in the file, and the restarted service counts them.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { json, postJson, spawnServer } from '../helpers/server.ts';

const dir = mkdtempSync(join(tmpdir(), 'msgcls-crash-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('SIGKILL right after acknowledged feedback loses no acknowledged label (SQLite)', async () => {
  const file = join(dir, 'crash.db');
  const env = { STORE_URL: `sqlite:${file}`, STORE_FLUSH_MS: '60000' };
  const first = await spawnServer(env);
  const acked = new Map<string, string>();
  try {
    for (let i = 0; i < 40; i++) {
      const p = await postJson(`${first.url}/predict`, { text: `message number ${i}, win a prize ${i}` });
      assert.equal(p.status, 200);
      const label = i % 3 === 0 ? 'ham' : 'spam';
      const f = await postJson(`${first.url}/feedback`, { prediction_id: p.json.prediction_id, label });
      assert.equal(f.status, 200, f.text);
      acked.set(p.json.prediction_id, label);
    }
  } finally {
    first.proc.kill('SIGKILL');
    await first.exited;
  }
  const db = new DatabaseSync(file, { readOnly: true });
  const stored = new Map(
    (
      db.prepare('SELECT prediction_id, label FROM msgcls_feedback').all() as { prediction_id: string; label: string }[]
    ).map((r) => [r.prediction_id, r.label]),
  );
  db.close();
  for (const [id, label] of acked) assert.equal(stored.get(id), label, `acknowledged label of ${id}`);

  const second = await spawnServer(env);
  try {
    const q = await json(await fetch(`${second.url}/monitoring/quality`));
    assert.equal(q.models[0].windows.count.labelled, acked.size);
  } finally {
    second.proc.kill('SIGTERM');
    await second.exited;
  }
});
