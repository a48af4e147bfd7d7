// The README is the user's first contact: its configuration table and CLI list must match the code.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { withTable } from '../../scripts/config-table.ts';

const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');

describe('README', () => {
  test('the configuration table is generated from src/config.ts', () => {
    assert.equal(readme, withTable(readme), 'README config table is stale: run `node scripts/config-table.ts --write`');
  });

  test('documents every CLI command and the test commands', () => {
    for (const cmd of ['serve', 'train', 'eval', 'predict', 'models', 'doctor'])
      assert.match(readme, new RegExp(`msg-cls ${cmd}`));
    for (const script of [
      'npm start',
      'npm test',
      'npm run bench',
      'npm run test:observability',
      'npm run test:deploy',
      'npm run test:container',
    ])
      assert.ok(readme.includes(script), script);
  });
});
