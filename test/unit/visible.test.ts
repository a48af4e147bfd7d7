import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasVisibleText, INVISIBLE_BMP, VISIBLE_PATTERN } from '../../src/model/visible.ts';

test('the invisible class is the BMP part of White_Space, Cc, Cf and Default_Ignorable_Code_Point', () => {
  const byUnicode = /[\p{White_Space}\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}]/u;
  const ours = new RegExp(`[${INVISIBLE_BMP}]`);
  const differ: string[] = [];
  for (let c = 0; c < 0x10000; c++) {
    if (c >= 0xd800 && c <= 0xdfff) continue;
    const ch = String.fromCharCode(c);
    if (byUnicode.test(ch) !== ours.test(ch)) differ.push(`U+${c.toString(16).padStart(4, '0')}`);
  }
  assert.deepEqual(differ, [], 'regenerate INVISIBLE_BMP for this Unicode version');
});

test('blank and visible texts', () => {
  for (const t of [
    '',
    ' ',
    '\u200b\u200b',
    '\u3000',
    '\u00a0\ufeff',
    '\u2028\u2029',
    '\u3164',
    '\t\n\u180e',
    '\u00ad',
  ]) {
    assert.equal(hasVisibleText(t), false, JSON.stringify(t));
  }
  for (const t of ['a', ' a ', '\u200bx', '😀', '\ud800', '½', '\u0301', '\u2800']) {
    assert.equal(hasVisibleText(t), true, JSON.stringify(t));
  }
});

test('the pattern means the same with and without the u flag (as JSON Schema validators differ)', () => {
  const u = new RegExp(VISIBLE_PATTERN, 'u');
  for (const t of ['\u200b', '😀', '\ud800', '\u3000a', '\ufeff'])
    assert.equal(u.test(t), hasVisibleText(t), JSON.stringify(t));
});
