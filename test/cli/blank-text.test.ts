// `msg-cls predict` refuses a blank TEXT by the same definition as POST /predict (src/model/visible.ts).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawnCli } from '../helpers/server.ts';

test('predict refuses a TEXT of only invisible characters, like the API', async () => {
  for (const text of ['\u200b\u200b', '\u3000', ' ']) {
    const child = spawnCli(['predict', text]);
    child.proc.stdin?.end();
    const { code } = await child.exited;
    assert.equal(code, 2, JSON.stringify(text));
    assert.match(child.stderr.join(''), /no visible characters/);
  }
});
