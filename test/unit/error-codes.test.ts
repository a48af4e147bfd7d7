// Every error code the source can answer is in the README's error table (and every code in the table
// is one the source can answer): the table is the API's contract for clients.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const ROOT = join(import.meta.dirname, '..', '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

/** Error codes in the HTTP layer: thrown HttpErrors, sendError calls, and the mapping tables. */
function codesInSource(): Set<string> {
  const codes = new Set<string>();
  const patterns = [
    /HttpError\(\s*\d{3},\s*'([a-z_]+)'/g,
    /sendError\([^,]+,[^,]+,\s*\d{3},\s*'([a-z_]+)'/g,
    /\b(?:code|error): '([a-z_]+)'/g,
    /\bcode: \w+ \? '([a-z_]+)' : '([a-z_]+)'/g,
  ];
  for (const file of sourceFiles(join(ROOT, 'src', 'http'))) {
    const text = readFileSync(file, 'utf8');
    for (const re of patterns) for (const m of text.matchAll(re)) for (const c of m.slice(1)) if (c) codes.add(c);
  }
  return codes;
}

function codesInReadme(): Set<string> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('| Status | `error` | When |');
  assert.ok(start >= 0, 'the README has the error table');
  const table = readme.slice(start, readme.indexOf('\n\n', start));
  const codes = new Set<string>();
  for (const row of table.split('\n').slice(2)) {
    const cell = row.split('|')[2] ?? '';
    for (const m of cell.matchAll(/`([a-z_]+)`/g)) codes.add(m[1]);
  }
  return codes;
}

test('every error code in src/http is in the README error table, and the table has no stale code', () => {
  const source = codesInSource();
  const readme = codesInReadme();
  assert.ok(source.size >= 25, `found only ${source.size} codes in the source: is the scanner still right?`);
  assert.deepEqual([...source].filter((c) => !readme.has(c)).sort(), [], 'codes missing from the README table');
  assert.deepEqual(
    [...readme].filter((c) => !source.has(c)).sort(),
    [],
    'codes in the README that the source never answers',
  );
});
