// Parsers for labelled text files: JSONL and CSV/TSV (RFC 4180 quoting).
// Bad rows are returned with their 1-based starting line number and a reason — never dropped silently.

import { DatasetError, type DatasetFormat, type Example, type ParseResult, type RowError } from './types.ts';

/** Parse a whole file's content in the given format. */
export function parseDataset(content: string, format: DatasetFormat): ParseResult {
  if (format === 'jsonl') return parseJsonl(content);
  if (format === 'csv') return parseDelimited(content, ',');
  if (format === 'tsv') return parseDelimited(content, '\t');
  throw new DatasetError(`unknown dataset format "${format as string}" (expected jsonl, csv or tsv)`);
}

/** Format from a file name's extension (.jsonl/.ndjson, .csv, .tsv/.tab), or undefined. */
export function formatFromPath(path: string): DatasetFormat | undefined {
  const lower = path.toLowerCase();
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return 'jsonl';
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.tsv') || lower.endsWith('.tab')) return 'tsv';
  return undefined;
}

function stripBom(s: string): string {
  return s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
}

// ---------------------------------------------------------------------------------------------------
// JSONL

/**
 * One JSON object per line with a non-empty string "text" and a non-empty "label" (a string, or a
 * number, which is converted with String()). Blank lines are skipped. Other keys are ignored.
 */
export function parseJsonl(content: string): ParseResult {
  const examples: Example[] = [];
  const errors: RowError[] = [];
  const s = stripBom(content);
  let pos = 0;
  let line = 0;
  while (pos < s.length) {
    line++;
    let end = s.indexOf('\n', pos);
    if (end < 0) end = s.length;
    const raw = s.slice(pos, end);
    pos = end + 1;
    if (raw.trim() === '') continue;
    let obj: unknown;
    try {
      obj = JSON.parse(raw);
    } catch (err) {
      errors.push({ line, reason: `invalid JSON: ${(err as Error).message}` });
      continue;
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      errors.push({ line, reason: 'not a JSON object' });
      continue;
    }
    const rec = obj as Record<string, unknown>;
    const reason = checkRecord(rec.text, rec.label, 'text' in rec, 'label' in rec);
    if (reason) errors.push({ line, reason });
    else examples.push({ text: rec.text as string, label: normLabel(rec.label), origin: `line ${line}` });
  }
  return { examples, errors };
}

function normLabel(label: unknown): string {
  return (typeof label === 'number' ? String(label) : (label as string)).trim();
}

function checkRecord(text: unknown, label: unknown, hasText: boolean, hasLabel: boolean): string | undefined {
  if (!hasText || text === undefined) return 'missing "text"';
  if (typeof text !== 'string') return `"text" is not a string (got ${text === null ? 'null' : typeof text})`;
  if (text.trim() === '') return 'empty "text"';
  if (!hasLabel || label === undefined) return 'missing "label"';
  if (typeof label === 'number') {
    if (!Number.isFinite(label)) return '"label" is not a finite number';
    return undefined;
  }
  if (typeof label !== 'string') return `"label" is not a string (got ${label === null ? 'null' : typeof label})`;
  if (label.trim() === '') return 'empty "label"';
  return undefined;
}

// ---------------------------------------------------------------------------------------------------
// CSV / TSV

type RawRecord = { line: number; fields: string[]; error?: string };

/**
 * Delimited text with a header row naming (case-insensitively) a `text` and a `label` column; other
 * columns are ignored. RFC 4180 quoting: a field may be enclosed in double quotes, inside which the
 * delimiter and newlines are literal and `""` is one quote. CRLF or LF line ends; a UTF-8 BOM is
 * tolerated; completely empty lines are skipped.
 */
export function parseDelimited(content: string, delimiter: ',' | '\t'): ParseResult {
  const examples: Example[] = [];
  const errors: RowError[] = [];
  const records = readRecords(stripBom(content), delimiter.charCodeAt(0));
  const header = records.next();
  if (header.done) throw new DatasetError('empty file: expected a header row naming text and label columns');
  if (header.value.error) throw new DatasetError(`header row (line ${header.value.line}): ${header.value.error}`);
  const names = header.value.fields.map((f) => f.trim().toLowerCase());
  const ti = names.indexOf('text');
  const li = names.indexOf('label');
  if (ti < 0 || li < 0) {
    const missing = [ti < 0 ? 'text' : '', li < 0 ? 'label' : ''].filter(Boolean).join(' and ');
    throw new DatasetError(
      `header row (line ${header.value.line}) has no ${missing} column; found columns: ${header.value.fields.map((f) => JSON.stringify(f)).join(', ')}`,
    );
  }
  const width = names.length;
  for (const rec of records) {
    if (rec.error) {
      errors.push({ line: rec.line, reason: rec.error });
      continue;
    }
    if (rec.fields.length !== width) {
      errors.push({
        line: rec.line,
        reason: `wrong column count: expected ${width} fields, found ${rec.fields.length}`,
      });
      continue;
    }
    const text = rec.fields[ti];
    const label = rec.fields[li].trim();
    if (text.trim() === '') errors.push({ line: rec.line, reason: 'empty "text"' });
    else if (label === '') errors.push({ line: rec.line, reason: 'empty "label"' });
    else examples.push({ text, label, origin: `line ${rec.line}` });
  }
  return { examples, errors };
}

function* readRecords(s: string, delim: number): Generator<RawRecord> {
  const n = s.length;
  let i = 0;
  let line = 1;
  while (i < n) {
    const start = line;
    const fields: string[] = [];
    let error: string | undefined;
    let quotedAny = false;
    for (;;) {
      let field: string;
      if (s.charCodeAt(i) === 0x22 /* " */) {
        quotedAny = true;
        i++;
        field = '';
        for (;;) {
          const q = s.indexOf('"', i);
          if (q < 0) {
            // unterminated: the rest of the file is swallowed by this record
            error = 'unterminated quoted field';
            line += countNewlines(s, i, n);
            i = n;
            break;
          }
          field += s.slice(i, q);
          line += countNewlines(s, i, q);
          if (s.charCodeAt(q + 1) === 0x22) {
            field += '"';
            i = q + 2;
          } else {
            i = q + 1;
            break;
          }
        }
        if (!error && i < n) {
          const c = s.charCodeAt(i);
          if (c !== delim && c !== 0x0a && c !== 0x0d) {
            error = 'unexpected character after closing quote';
            // skip the rest of this physical line so that parsing resumes at the next record
            while (i < n && s.charCodeAt(i) !== 0x0a) i++;
          }
        }
      } else {
        const from = i;
        while (i < n) {
          const c = s.charCodeAt(i);
          if (c === delim || c === 0x0a || c === 0x0d) break;
          i++;
        }
        field = s.slice(from, i);
      }
      fields.push(field);
      if (i >= n) break;
      const c = s.charCodeAt(i);
      if (c === delim) {
        i++;
        if (i >= n) fields.push(''); // trailing delimiter at end of file
        continue;
      }
      // end of record
      if (c === 0x0d && s.charCodeAt(i + 1) === 0x0a) i += 2;
      else i++;
      line++;
      break;
    }
    if (!quotedAny && fields.length === 1 && fields[0] === '' && !error) continue; // empty line
    yield { line: start, fields, error };
  }
}

function countNewlines(s: string, from: number, to: number): number {
  let k = 0;
  for (let p = s.indexOf('\n', from); p >= 0 && p < to; p = s.indexOf('\n', p + 1)) k++;
  return k;
}
