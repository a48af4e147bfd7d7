import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadDataset } from '../../src/data/load.ts';
import { formatFromPath, parseDelimited, parseJsonl } from '../../src/data/parse.ts';
import { DatasetError } from '../../src/data/types.ts';

describe('parseJsonl', () => {
  it('parses good rows, skips blank lines and reports every bad row with its line', () => {
    const content = [
      '{"text": "hello", "label": "ham", "extra": 1}', // 1 ok
      '', // 2 blank: skipped
      '{not json', // 3
      '["text", "label"]', // 4 not an object
      '{"label": "spam"}', // 5 missing text
      '{"text": 42, "label": "spam"}', // 6 text not a string
      '{"text": "   ", "label": "spam"}', // 7 empty text
      '{"text": "hi"}', // 8 missing label
      '{"text": "hi", "label": ""}', // 9 empty label
      '{"text": "hi", "label": null}', // 10 label not a string
      '{"text": "win money", "label": 1}', // 11 ok: numeric label
      '   ', // 12 blank
      '{"text": "bye", "label": " spam "}\r', // 13 ok, CRLF, label trimmed
    ].join('\n');
    const { examples, errors } = parseJsonl(content);
    assert.deepEqual(
      examples.map((e) => [e.text, e.label]),
      [
        ['hello', 'ham'],
        ['win money', '1'],
        ['bye', 'spam'],
      ],
    );
    assert.deepEqual(
      errors.map((e) => e.line),
      [3, 4, 5, 6, 7, 8, 9, 10],
    );
    assert.match(errors[0].reason, /invalid JSON/);
    assert.match(errors[1].reason, /not a JSON object/);
    assert.match(errors[2].reason, /missing "text"/);
    assert.match(errors[3].reason, /"text" is not a string/);
    assert.match(errors[4].reason, /empty "text"/);
    assert.match(errors[5].reason, /missing "label"/);
    assert.match(errors[6].reason, /empty "label"/);
    assert.match(errors[7].reason, /"label" is not a string/);
  });

  it('tolerates a UTF-8 BOM', () => {
    const { examples, errors } = parseJsonl('\ufeff{"text":"a","label":"b"}\n');
    assert.equal(errors.length, 0);
    assert.equal(examples[0].text, 'a');
  });
});

describe('parseDelimited (CSV)', () => {
  it('handles RFC 4180 quoting: delimiters, doubled quotes and newlines inside quotes; extra columns ignored', () => {
    const content =
      '\ufeffid,Label,text\r\n1,ham,"hello, world"\r\n2,spam,"say ""hi""\nsecond line"\r\n3,ham,plain\r\n\r\n4,spam,"x"';
    const { examples, errors } = parseDelimited(content, ',');
    assert.deepEqual(errors, []);
    assert.deepEqual(
      examples.map((e) => [e.text, e.label, e.origin]),
      [
        ['hello, world', 'ham', 'line 2'],
        ['say "hi"\nsecond line', 'spam', 'line 3'],
        ['plain', 'ham', 'line 5'],
        ['x', 'spam', 'line 7'],
      ],
    );
  });

  it('reports bad rows with the line where the record starts', () => {
    const content = [
      'text,label', // 1
      'ok,ham', // 2
      'too,many,fields', // 3
      'lonely', // 4 too few
      ',spam', // 5 empty text
      'text without label,', // 6 empty label
      '"multi', // 7 starts a quoted multi-line record...
      'line",ham', // 8 ...ok, record starts at 7
      '"bad"x,ham', // 9 text after closing quote
      'fine,spam', // 10
      '"never closed,ham', // 11 unterminated: swallows the rest
      'more,ham', // 12
    ].join('\n');
    const { examples, errors } = parseDelimited(content, ',');
    assert.deepEqual(
      examples.map((e) => [e.text, e.origin]),
      [
        ['ok', 'line 2'],
        ['multi\nline', 'line 7'],
        ['fine', 'line 10'],
      ],
    );
    assert.deepEqual(
      errors.map((e) => [e.line, e.reason]),
      [
        [3, 'wrong column count: expected 2 fields, found 3'],
        [4, 'wrong column count: expected 2 fields, found 1'],
        [5, 'empty "text"'],
        [6, 'empty "label"'],
        [9, 'unexpected character after closing quote'],
        [11, 'unterminated quoted field'],
      ],
    );
  });

  it('throws a DatasetError naming the columns when text or label is missing from the header', () => {
    assert.throws(
      () => parseDelimited('message,category\nx,y\n', ','),
      (err: Error) => {
        assert.ok(err instanceof DatasetError);
        assert.match(err.message, /no text and label column/);
        assert.match(err.message, /"message", "category"/);
        return true;
      },
    );
    assert.throws(() => parseDelimited('', ','), DatasetError);
  });
});

describe('parseDelimited (TSV)', () => {
  it('splits on tabs, keeps commas, supports quotes', () => {
    const content = 'label\ttext\nham\tone, two\nspam\t"tab\tinside"\nham\tonly\textra\n';
    const { examples, errors } = parseDelimited(content, '\t');
    assert.deepEqual(
      examples.map((e) => e.text),
      ['one, two', 'tab\tinside'],
    );
    assert.deepEqual(errors, [{ line: 4, reason: 'wrong column count: expected 2 fields, found 3' }]);
  });
});

describe('loadDataset', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'msgcls-data-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('chooses the format from the extension, with an override', async () => {
    await writeFile(join(dir, 'a.csv'), 'text,label\nhi,ham\n');
    await writeFile(join(dir, 'b.tsv'), 'text\tlabel\nhi, there\tham\n');
    await writeFile(join(dir, 'c.ndjson'), '{"text":"hi","label":"ham"}\n');
    await writeFile(join(dir, 'd.txt'), 'text\tlabel\nhi\tspam\n');
    assert.equal((await loadDataset(join(dir, 'a.csv'))).examples[0].text, 'hi');
    assert.equal((await loadDataset(join(dir, 'b.tsv'))).examples[0].text, 'hi, there');
    const c = await loadDataset(join(dir, 'c.ndjson'));
    assert.equal(c.source.kind, 'file');
    assert.equal(c.source.kind === 'file' && c.source.format, 'jsonl');
    assert.equal(c.source.kind === 'file' && c.source.sha256.length, 64);
    await assert.rejects(loadDataset(join(dir, 'd.txt')), /cannot tell the format/);
    assert.equal((await loadDataset(join(dir, 'd.txt'), { format: 'tsv' })).examples[0].label, 'spam');
    await assert.rejects(loadDataset(join(dir, 'missing.csv')), /cannot read dataset file/);
  });

  it('formatFromPath', () => {
    assert.equal(formatFromPath('x.JSONL'), 'jsonl');
    assert.equal(formatFromPath('x.csv'), 'csv');
    assert.equal(formatFromPath('x.tsv'), 'tsv');
    assert.equal(formatFromPath('x.json'), undefined);
  });
});
