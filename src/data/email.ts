// E-mail (RFC 5322 + MIME) → the text a user would send us: the subject line and the readable body.
//
// Composition of the example text (exactly):  `${subject}\n${body}`
//   - subject: the decoded Subject header (RFC 2047 encoded-words decoded, folding removed,
//     whitespace collapsed, trimmed); "" when there is none. The first line of the text is therefore
//     always the subject, possibly empty.
//   - body: the readable text of the message. MIME multiparts are walked recursively; in a
//     multipart/alternative the text/plain alternative is preferred and text/html is used only when no
//     non-blank plain alternative exists; in other multiparts every inline text part is kept, in order.
//     HTML is reduced to its text (tags, comments, <script> and <style> removed, entities decoded).
//     Attachments (Content-Disposition: attachment, or a non-text type) are skipped. Quoted-printable and
//     base64 are decoded and the bytes decoded with the part's charset. Line endings become "\n",
//     trailing whitespace is removed from each line, runs of blank lines collapse to one, and the body is
//     trimmed.
// Mail headers other than Subject (From, Received, ...) are NOT part of the text.
//
// Every loop here is linear in the input size; no backtracking regular expressions are used on
// message content.

import { TextDecoder, TextEncoder } from 'node:util';

export type ExtractedEmail = {
  subject: string;
  body: string;
  /** `${subject}\n${body}` */
  text: string;
};

export type Headers = Map<string, string[]>;

type Part = { headers: Headers; body: string };

type ContentType = { type: string; params: Map<string, string> };

const MAX_DEPTH = 20;

/** Extract subject and readable body from a raw RFC 5322 message (as a JS string). */
export function extractEmail(raw: string): ExtractedEmail {
  const part = splitMessage(stripMboxFromLine(raw));
  const subject = decodeHeaderValue(firstHeader(part.headers, 'subject') ?? '')
    .replace(/\s+/g, ' ')
    .trim();
  const body = tidyText(extractPart(part, 0).join('\n'));
  return { subject, body, text: `${subject}\n${body}` };
}

/** First non-empty line of a body, trimmed and cut to at most `maxChars` UTF-16 code units. */
export function firstLine(body: string, maxChars = 160): string {
  let start = 0;
  while (start <= body.length) {
    let end = body.indexOf('\n', start);
    if (end < 0) end = body.length;
    const line = body.slice(start, end).trim();
    if (line.length > 0) return truncate(line, maxChars);
    start = end + 1;
  }
  return '';
}

function truncate(s: string, maxChars: number): string {
  if (s.length <= maxChars) return s;
  let cut = maxChars;
  const c = s.charCodeAt(cut - 1);
  if (c >= 0xd800 && c <= 0xdbff) cut--; // do not split a surrogate pair
  return s.slice(0, cut).trimEnd();
}

function stripMboxFromLine(raw: string): string {
  if (raw.startsWith('From ')) {
    const nl = raw.indexOf('\n');
    return nl < 0 ? '' : raw.slice(nl + 1);
  }
  return raw;
}

/** Split a message or MIME part into unfolded headers and body. */
export function splitMessage(raw: string): Part {
  const text = raw.indexOf('\r') >= 0 ? raw.replace(/\r\n?/g, '\n') : raw;
  const headers: Headers = new Map();
  let pos = 0;
  let currentName = '';
  let currentValue = '';
  const flush = () => {
    if (currentName) {
      const list = headers.get(currentName);
      if (list) list.push(currentValue);
      else headers.set(currentName, [currentValue]);
    }
    currentName = '';
    currentValue = '';
  };
  // A part that starts with a blank line has no headers.
  while (pos < text.length) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    const line = text.slice(pos, end);
    if (line.length === 0) {
      pos = end + 1;
      flush();
      return { headers, body: text.slice(Math.min(pos, text.length)) };
    }
    const first = line.charCodeAt(0);
    if ((first === 0x20 || first === 0x09) && currentName) {
      // Folded continuation (RFC 5322 §2.2.3): unfolding removes the CRLF only.
      currentValue += line;
    } else {
      const colon = line.indexOf(':');
      if (colon > 0 && isHeaderName(line, colon)) {
        flush();
        currentName = line.slice(0, colon).trim().toLowerCase();
        currentValue = line.slice(colon + 1).trim();
      } else if (headers.size === 0 && !currentName) {
        // Not a header block at all: the whole thing is body.
        return { headers, body: text };
      } else {
        // A malformed line inside the header block ends the headers; keep it as body.
        flush();
        return { headers, body: text.slice(pos) };
      }
    }
    pos = end + 1;
  }
  flush();
  return { headers, body: '' };
}

function isHeaderName(line: string, colon: number): boolean {
  for (let i = 0; i < colon; i++) {
    const c = line.charCodeAt(i);
    // printable US-ASCII except ":" and space (a trailing space before the colon is tolerated)
    if (c < 0x21 || c > 0x7e) {
      if (c === 0x20 && line.slice(i, colon).trim() === '') return i > 0;
      return false;
    }
  }
  return true;
}

function firstHeader(headers: Headers, name: string): string | undefined {
  return headers.get(name)?.[0];
}

// ---------------------------------------------------------------------------------------------------
// Content-Type and parameters

export function parseContentType(value: string | undefined): ContentType {
  if (!value) return { type: 'text/plain', params: new Map() };
  const semi = value.indexOf(';');
  const type = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  const params = semi < 0 ? new Map<string, string>() : parseParams(value.slice(semi + 1));
  return { type: type.includes('/') ? type : 'text/plain', params };
}

function parseParams(s: string): Map<string, string> {
  const params = new Map<string, string>();
  let i = 0;
  const n = s.length;
  while (i < n) {
    while (i < n && (s[i] === ';' || s[i] === ' ' || s[i] === '\t')) i++;
    const eq = s.indexOf('=', i);
    if (eq < 0) break;
    const name = s.slice(i, eq).trim().toLowerCase();
    i = eq + 1;
    while (i < n && (s[i] === ' ' || s[i] === '\t')) i++;
    let value = '';
    if (s[i] === '"') {
      i++;
      while (i < n && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < n) i++;
        value += s[i];
        i++;
      }
      i++; // closing quote
      const semi = s.indexOf(';', i);
      i = semi < 0 ? n : semi;
    } else {
      const semi = s.indexOf(';', i);
      const end = semi < 0 ? n : semi;
      value = s.slice(i, end).trim();
      i = end;
    }
    if (name && !params.has(name)) params.set(name, value);
  }
  return params;
}

// ---------------------------------------------------------------------------------------------------
// MIME walk

function extractPart(part: Part, depth: number): string[] {
  const ct = parseContentType(firstHeader(part.headers, 'content-type'));
  const disposition = (firstHeader(part.headers, 'content-disposition') ?? '').trim().toLowerCase();
  if (disposition.startsWith('attachment')) return [];
  if (depth > MAX_DEPTH) return [];

  if (ct.type.startsWith('multipart/')) {
    const boundary = ct.params.get('boundary');
    if (!boundary) return textOf(part, ct, 'text/plain'); // broken multipart: treat as text
    const rawChildren = splitMultipart(part.body, boundary);
    // No delimiter found (a broken boundary): show the body as plain text, as a mail client would.
    if (rawChildren.length === 0) return [part.body];
    const children = rawChildren.map(splitMessage);
    if (ct.type === 'multipart/alternative') {
      const plain: string[] = [];
      const rich: string[] = [];
      for (const child of children) {
        const cct = parseContentType(firstHeader(child.headers, 'content-type')).type;
        const texts = extractPart(child, depth + 1);
        if (!hasContent(texts)) continue;
        if (cct === 'text/plain' && plain.length === 0) plain.push(...texts);
        else if (rich.length === 0) rich.push(...texts);
      }
      return plain.length > 0 ? plain : rich;
    }
    const out: string[] = [];
    for (const child of children) out.push(...extractPart(child, depth + 1));
    return out;
  }
  if (ct.type === 'message/rfc822') {
    const inner = splitMessage(decodeTransfer(part));
    const subject = decodeHeaderValue(firstHeader(inner.headers, 'subject') ?? '').trim();
    const texts = extractPart(inner, depth + 1);
    return subject ? [subject, ...texts] : texts;
  }
  if (ct.type === 'text/plain' || ct.type === 'text/html' || ct.type === 'text/enriched') {
    return textOf(part, ct, ct.type);
  }
  // Any other text/* that is not a header dump is readable text; everything else is skipped.
  if (ct.type.startsWith('text/') && ct.type !== 'text/rfc822-headers') return textOf(part, ct, 'text/plain');
  return [];
}

function hasContent(texts: string[]): boolean {
  for (const t of texts) if (t.trim().length > 0) return true;
  return false;
}

function textOf(part: Part, ct: ContentType, kind: string): string[] {
  const decoded = decodeTransfer(part, ct.params.get('charset'));
  if (kind === 'text/html') return [htmlToText(decoded)];
  if (kind === 'text/enriched') return [stripEnriched(decoded)];
  return [decoded];
}

/** Split a multipart body into its parts' raw texts (preamble and epilogue dropped). */
export function splitMultipart(body: string, boundary: string): string[] {
  const delimiter = `--${boundary}`;
  const parts: string[] = [];
  let pos = 0;
  let start = -1;
  while (pos <= body.length) {
    let end = body.indexOf('\n', pos);
    if (end < 0) end = body.length;
    // Cheap check before slicing: the line must start with "--".
    if (body.charCodeAt(pos) === 0x2d && body.charCodeAt(pos + 1) === 0x2d && body.startsWith(delimiter, pos)) {
      const rest = body.slice(pos + delimiter.length, end).trimEnd();
      if (rest === '' || rest === '--') {
        if (start >= 0) parts.push(body.slice(start, Math.max(start, pos - 1)));
        if (rest === '--') return parts;
        start = end + 1;
      }
    }
    pos = end + 1;
  }
  if (start >= 0 && start < body.length) parts.push(body.slice(start)); // missing close delimiter
  return parts;
}

// ---------------------------------------------------------------------------------------------------
// Transfer encodings and charsets

function decodeTransfer(part: Part, charset?: string): string {
  const cte = (firstHeader(part.headers, 'content-transfer-encoding') ?? '').trim().toLowerCase();
  if (cte === 'quoted-printable') return decodeBytes(decodeQuotedPrintable(part.body), charset);
  if (cte === 'base64') return decodeBytes(decodeBase64(part.body), charset);
  return part.body; // 7bit / 8bit / binary: already characters
}

const utf8Encoder = new TextEncoder();

/** Quoted-printable (RFC 2045 §6.7) → bytes. Malformed escapes are kept literally. */
export function decodeQuotedPrintable(s: string): Uint8Array {
  const out = new Uint8Array(s.length * 3); // a char ≥ 0x80 may take up to 3 UTF-8 bytes
  let o = 0;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x3d /* = */) {
      // soft line break: "=" followed by optional whitespace and a newline
      let j = i + 1;
      while (j < n && (s.charCodeAt(j) === 0x20 || s.charCodeAt(j) === 0x09)) j++;
      if (j < n && s.charCodeAt(j) === 0x0a) {
        i = j;
        continue;
      }
      if (j >= n) break;
      const h1 = hexVal(s.charCodeAt(i + 1));
      const h2 = hexVal(s.charCodeAt(i + 2));
      if (h1 >= 0 && h2 >= 0) {
        out[o++] = (h1 << 4) | h2;
        i += 2;
        continue;
      }
      out[o++] = c;
    } else if (c < 0x80) {
      out[o++] = c;
    } else {
      // Already a decoded character (8-bit data mislabelled as QP): keep it as UTF-8.
      const wide = c >= 0xd800 && c <= 0xdbff && i + 1 < n;
      o += utf8Encoder.encodeInto(wide ? s.slice(i, i + 2) : s[i], out.subarray(o)).written;
      if (wide) i++;
    }
  }
  return out.subarray(0, o);
}

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

/** Base64 → bytes, ignoring characters outside the alphabet (line breaks, garbage). */
export function decodeBase64(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'base64'));
}

const decoders = new Map<string, TextDecoder | null>();

const CHARSET_ALIASES: Record<string, string> = {
  'us-ascii': 'windows-1252',
  ascii: 'windows-1252',
  latin1: 'windows-1252',
  'iso-8859-1': 'windows-1252',
  'ks_c_5601-1987': 'euc-kr',
  default: '',
  default_charset: '',
  'x-unknown': '',
  unknown: '',
};

function getDecoder(label: string): TextDecoder | null {
  let d = decoders.get(label);
  if (d !== undefined) return d;
  try {
    d = new TextDecoder(label);
  } catch {
    d = null;
  }
  decoders.set(label, d);
  return d;
}

const utf8Fatal = new TextDecoder('utf-8', { fatal: true });
const windows1252 = new TextDecoder('windows-1252');

/**
 * Decode bytes with a MIME charset label. Unknown or missing labels fall back to UTF-8 when the bytes
 * are valid UTF-8, else windows-1252 (a superset of latin1 that never fails).
 */
export function decodeBytes(bytes: Uint8Array, charset?: string): string {
  let label = (charset ?? '').trim().toLowerCase();
  if (label in CHARSET_ALIASES) label = CHARSET_ALIASES[label];
  if (label && label !== 'utf-8' && label !== 'utf8') {
    const d = getDecoder(label);
    if (d) return d.decode(bytes);
  }
  try {
    return utf8Fatal.decode(bytes);
  } catch {
    return windows1252.decode(bytes);
  }
}

// ---------------------------------------------------------------------------------------------------
// RFC 2047 encoded words

/** Decode RFC 2047 encoded-words (=?charset?B|Q?...?=) in a header value. */
export function decodeHeaderValue(value: string): string {
  if (value.indexOf('=?') < 0) return value;
  let out = '';
  let pos = 0;
  let lastWasEncoded = false;
  let pendingWs = '';
  while (pos < value.length) {
    const start = value.indexOf('=?', pos);
    if (start < 0) break;
    const q1 = value.indexOf('?', start + 2);
    const q2 = q1 < 0 ? -1 : value.indexOf('?', q1 + 1);
    const end = q2 < 0 ? -1 : value.indexOf('?=', q2 + 1);
    if (q1 < 0 || q2 !== q1 + 2 || end < 0) {
      // not an encoded word: copy through "=?" and go on
      out += pendingWs + value.slice(pos, start + 2);
      pendingWs = '';
      lastWasEncoded = false;
      pos = start + 2;
      continue;
    }
    const between = value.slice(pos, start);
    // Whitespace between two adjacent encoded words is dropped (RFC 2047 §6.2).
    if (!(lastWasEncoded && between.trim() === '')) out += between;
    const charset = value.slice(start + 2, q1).split('*')[0]; // drop RFC 2231 language
    const enc = value[q1 + 1].toUpperCase();
    const payload = value.slice(q2 + 1, end);
    let bytes: Uint8Array;
    if (enc === 'B') bytes = decodeBase64(payload);
    else if (enc === 'Q') bytes = decodeQuotedPrintable(payload.replace(/_/g, ' '));
    else {
      out += value.slice(start, end + 2);
      pos = end + 2;
      lastWasEncoded = false;
      continue;
    }
    out += decodeBytes(bytes, charset);
    pos = end + 2;
    lastWasEncoded = true;
    pendingWs = '';
  }
  return out + pendingWs + value.slice(pos);
}

// ---------------------------------------------------------------------------------------------------
// HTML → text

const BLOCK_TAGS = new Set([
  'br',
  'p',
  'div',
  'tr',
  'li',
  'ul',
  'ol',
  'table',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'blockquote',
  'pre',
  'hr',
  'title',
  'center',
  'dd',
  'dt',
  'dl',
  'form',
  'body',
  'html',
  'head',
  'section',
  'article',
  'header',
  'footer',
  'tbody',
  'thead',
]);

/** Reduce HTML to its visible text: tags removed, <script>/<style>/comments dropped, entities decoded. */
export function htmlToText(html: string): string {
  let out = '';
  let i = 0;
  const n = html.length;
  let textStart = 0;
  const lower = html.toLowerCase();
  while (i < n) {
    const lt = html.indexOf('<', i);
    if (lt < 0) break;
    // Is this really a tag? "<" followed by a letter, "/", "!" or "?".
    const nc = html.charCodeAt(lt + 1);
    const isTag = (nc >= 0x41 && nc <= 0x5a) || (nc >= 0x61 && nc <= 0x7a) || nc === 0x2f || nc === 0x21 || nc === 0x3f;
    if (!isTag) {
      i = lt + 1;
      continue;
    }
    out += html.slice(textStart, lt);
    if (lower.startsWith('<!--', lt)) {
      // An unclosed comment ("<!--#rotate>" in some spam) ends at the next ">" instead of swallowing the rest.
      const end = html.indexOf('-->', lt + 4);
      const gt = end < 0 ? html.indexOf('>', lt + 4) : -1;
      i = end >= 0 ? end + 3 : gt >= 0 ? gt + 1 : n;
      textStart = i;
      continue;
    }
    const gt = findTagEnd(html, lt + 1);
    const tagEnd = gt < 0 ? n : gt + 1;
    const name = tagName(lower, lt + 1);
    i = tagEnd;
    if ((name === 'script' || name === 'style') && html.charCodeAt(lt + 1) !== 0x2f) {
      // skip the element's content up to its closing tag (if there is none, only the tag goes)
      const close = lower.indexOf(`</${name}`, tagEnd);
      const closeEnd = close < 0 ? -1 : html.indexOf('>', close);
      if (closeEnd >= 0) i = closeEnd + 1;
    }
    out += BLOCK_TAGS.has(name) ? '\n' : ' ';
    textStart = i;
  }
  out += html.slice(textStart);
  return decodeEntities(out);
}

function findTagEnd(html: string, from: number): number {
  // Skip over quoted attribute values so that ">" inside them does not end the tag.
  let quote = 0;
  for (let i = from; i < html.length; i++) {
    const c = html.charCodeAt(i);
    if (quote) {
      if (c === quote) quote = 0;
      else if (c === 0x0a && i - from > 2000) return i; // runaway quote: give up at a newline
    } else if (c === 0x22 || c === 0x27) {
      // only treat as a quote when it starts an attribute value (after "=")
      let j = i - 1;
      while (j >= from && (html.charCodeAt(j) === 0x20 || html.charCodeAt(j) === 0x09)) j--;
      if (j >= from && html.charCodeAt(j) === 0x3d) quote = c;
    } else if (c === 0x3e) {
      return i;
    }
  }
  return -1;
}

function tagName(lower: string, from: number): string {
  let i = from;
  if (lower.charCodeAt(i) === 0x2f || lower.charCodeAt(i) === 0x21) i++;
  const start = i;
  while (i < lower.length) {
    const c = lower.charCodeAt(i);
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39)) i++;
    else break;
  }
  return lower.slice(start, i);
}

const ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  copy: '©',
  reg: '®',
  trade: '™',
  euro: '€',
  pound: '£',
  yen: '¥',
  cent: '¢',
  sect: '§',
  deg: '°',
  plusmn: '±',
  middot: '·',
  laquo: '«',
  raquo: '»',
  ldquo: '“',
  rdquo: '”',
  lsquo: '‘',
  rsquo: '’',
  ndash: '–',
  mdash: '—',
  hellip: '…',
  bull: '•',
  times: '×',
  divide: '÷',
  frac12: '½',
  frac14: '¼',
  frac34: '¾',
  iexcl: '¡',
  iquest: '¿',
  szlig: 'ß',
  agrave: 'à',
  aacute: 'á',
  acirc: 'â',
  atilde: 'ã',
  auml: 'ä',
  aring: 'å',
  aelig: 'æ',
  ccedil: 'ç',
  egrave: 'è',
  eacute: 'é',
  ecirc: 'ê',
  euml: 'ë',
  igrave: 'ì',
  iacute: 'í',
  icirc: 'î',
  iuml: 'ï',
  ntilde: 'ñ',
  ograve: 'ò',
  oacute: 'ó',
  ocirc: 'ô',
  otilde: 'õ',
  ouml: 'ö',
  oslash: 'ø',
  ugrave: 'ù',
  uacute: 'ú',
  ucirc: 'û',
  uuml: 'ü',
  yacute: 'ý',
  yuml: 'ÿ',
  Agrave: 'À',
  Aacute: 'Á',
  Acirc: 'Â',
  Atilde: 'Ã',
  Auml: 'Ä',
  Aring: 'Å',
  AElig: 'Æ',
  Ccedil: 'Ç',
  Egrave: 'È',
  Eacute: 'É',
  Ecirc: 'Ê',
  Euml: 'Ë',
  Igrave: 'Ì',
  Iacute: 'Í',
  Icirc: 'Î',
  Iuml: 'Ï',
  Ntilde: 'Ñ',
  Ograve: 'Ò',
  Oacute: 'Ó',
  Ocirc: 'Ô',
  Otilde: 'Õ',
  Ouml: 'Ö',
  Oslash: 'Ø',
  Ugrave: 'Ù',
  Uacute: 'Ú',
  Ucirc: 'Û',
  Uuml: 'Ü',
  Yacute: 'Ý',
  shy: '',
};

/** Decode HTML character references (named ones from a common subset, and all numeric ones). */
export function decodeEntities(s: string): string {
  if (s.indexOf('&') < 0) return s;
  let out = '';
  let pos = 0;
  while (pos < s.length) {
    const amp = s.indexOf('&', pos);
    if (amp < 0) break;
    out += s.slice(pos, amp);
    // entity names/numbers are short; look at most 32 chars ahead for ";"
    let end = amp + 1;
    const limit = Math.min(s.length, amp + 33);
    while (end < limit && isEntityChar(s.charCodeAt(end))) end++;
    const name = s.slice(amp + 1, end);
    const hasSemi = s.charCodeAt(end) === 0x3b;
    let decoded: string | undefined;
    if (name.startsWith('#')) {
      const isHex = name[1] === 'x' || name[1] === 'X';
      const digits = isHex ? name.slice(2) : name.slice(1);
      const cp = digits.length > 0 && digits.length <= 8 ? Number.parseInt(digits, isHex ? 16 : 10) : Number.NaN;
      if (Number.isFinite(cp) && /^[0-9a-fA-F]+$/.test(digits)) {
        decoded = cp > 0 && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff) ? String.fromCodePoint(cp) : '\uFFFD';
      }
    } else if (name.length > 0) {
      decoded = ENTITIES[name] ?? ENTITIES[name.toLowerCase()];
      if (decoded !== undefined && !hasSemi && !['amp', 'lt', 'gt', 'quot', 'nbsp'].includes(name.toLowerCase())) {
        decoded = undefined; // legacy semicolon-less form only for the common few
      }
    }
    if (decoded === undefined) {
      out += '&';
      pos = amp + 1;
    } else {
      out += decoded;
      pos = hasSemi ? end + 1 : end;
    }
  }
  return out + s.slice(pos);
}

function isEntityChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x23;
}

function stripEnriched(s: string): string {
  // text/enriched (RFC 1896): drop <command> markers, "<<" is a literal "<".
  let out = '';
  let i = 0;
  while (i < s.length) {
    const lt = s.indexOf('<', i);
    if (lt < 0) break;
    out += s.slice(i, lt);
    if (s[lt + 1] === '<') {
      out += '<';
      i = lt + 2;
      continue;
    }
    const gt = s.indexOf('>', lt);
    if (gt < 0 || gt - lt > 64) {
      out += '<';
      i = lt + 1;
      continue;
    }
    i = gt + 1;
  }
  return out + s.slice(i);
}

// ---------------------------------------------------------------------------------------------------

/** Normalise line endings and whitespace of extracted text (see the composition note at the top). */
export function tidyText(s: string): string {
  const lines = s.replace(/\r\n?/g, '\n').split('\n');
  const out: string[] = [];
  let blank = 0;
  for (const raw of lines) {
    // non-breaking spaces from HTML are spaces; trailing whitespace goes
    const line = raw.replace(/\u00a0/g, ' ').trimEnd();
    if (line.trim().length === 0) {
      blank++;
      continue;
    }
    if (blank > 0 && out.length > 0) out.push('');
    blank = 0;
    out.push(line);
  }
  return out.join('\n');
}
