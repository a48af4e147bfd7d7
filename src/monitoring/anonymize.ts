// Replaces personal data in free text with typed placeholders before it can reach a log or the store.
//
// Recipe: Unicode digits and compatibility forms are normalised first (NFKC, then any remaining
// decimal digit → ASCII), so that "４１１１…" or "ｂｏｂ＠ｅｘａｍｐｌｅ．ｃｏｍ" are seen as what they
// read as. Then broad patterns find candidates, validators confirm them where a checksum exists (Luhn
// for payment cards, ISO 13616 mod-97 for IBANs, the platform's IPv6 parser), and each match becomes
// <URL>, <EMAIL>, <IBAN>, <DOB>, <SSN>, <CARD>, <IP>, <PHONE> or <NUMBER>. Order matters: URLs first
// (they contain e-mail-like credentials and digit runs), dates of birth and SSNs before the phone
// pattern (which would take them), long digit runs last.
// All patterns are linear-time (no nested quantifiers over overlapping classes), and each runs only
// when a cheap test says it can match (no '@' → no e-mail pattern): ordinary text costs little.

import { isIPv6 } from 'node:net';

export const PLACEHOLDERS = [
  '<URL>',
  '<EMAIL>',
  '<IBAN>',
  '<DOB>',
  '<SSN>',
  '<CARD>',
  '<IP>',
  '<PHONE>',
  '<NUMBER>',
] as const;

const NON_ASCII = /[\u0080-\uffff]/;
const NON_ASCII_DIGIT = /(?![0-9])\p{Nd}/gu;
// A quote may be part of a URL (RFC 3986 allows it); a URL written in quotes loses its closing quote.
const URL_RE = /\b(?:[a-z][a-z0-9+.-]{1,15}:\/\/|www\.)[^\s<>"`]+/gi;
// A host name without a scheme, with a query string (where tokens travel): example.com/reset?token=…
const SCHEMELESS_URL_RE = /(?<![\w@./:-])(?:[a-z0-9-]+\.)+[a-z]{2,}(?::\d{1,5})?(?:\/[^\s<>"`?]*)?\?[^\s<>"`]+/gi;
// The lookbehind starts a match only at the start of a run: without it, a long run with no '@'
// would be rescanned from every position (quadratic). The host is a dotted name with a TLD, a single
// label (bob@localhost, alice@mailhost) or an address literal (eve@[10.0.0.1]).
const EMAIL_RE =
  /(?<![a-z0-9._%+-])[a-z0-9._%+-]+@(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}|[a-z][a-z0-9-]*[a-z0-9]\b|\[[0-9a-f.:]+\])/gi;
const IBAN_RE = /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b/g;
const MONTH = '(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\\.?';
// A date after words that say it is a date of birth; other dates are not personal data on their own.
const DOB_RE = new RegExp(
  '(\\b(?:dob|d\\.o\\.b\\.?|date of birth|birth ?date|birthday|born(?: on)?|geb\\.|geboren(?: am)?)[\\s:.,#-]{0,4})' +
    `(?:\\d{1,4}[./-]\\d{1,2}[./-]\\d{2,4}|\\d{1,2}(?:st|nd|rd|th)?\\.? ${MONTH},? \\d{2,4}|${MONTH} \\d{1,2}(?:st|nd|rd|th)?,? \\d{2,4})`,
  'gi',
);
const DOB_HINT = /dob|d\.o\.b|birth|born|geb/i;
// US social security numbers: AAA-GG-SSSS (never 000/666/9xx, 00, 0000), or 9 digits after "SSN".
const SSN_RE =
  /\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b|(\b(?:ssn|social security(?: number)?)[\s:#.-]{0,4})\d{3}[ .-]?\d{2}[ .-]?\d{4}\b/gi;
// Candidates: any run of 13 or more digits with optional separators; maskCards() finds the card in it.
const CARD_RE = /\b\d(?:[ .-]?\d){12,}\b/g;
const SEPARATORS = /[ .-]/g;
const IPV4_RE = /\b(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\/\d{1,2})?\b/g;
const IPV6_RE = /(?<![\w:])[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,8}(?:%\w+)?(?![\w:])/gi;
const IPV6_HINT = /:[0-9a-f]{0,4}:/i;
const PHONE_RE = /(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){1,4}(?![\w])/g;
const DIGITS_RE = /\d{6,}/g;
const DIGIT = /\d/;
const SEPARATOR_RE = /[ .()+-]/;
// Dates look like phone numbers to the pattern above; they are not personal data on their own.
const DATE_RE = /^(?:\d{4}[-./]\d{2}[-./]\d{2}|\d{2}[-./]\d{2}[-./]\d{4})$/;

const digitValues = new Map<string, string>();
/**
 * The ASCII digit for any Unicode decimal digit (\p{Nd}). Unicode allocates every such digit in runs
 * of ten, 0 to 9, so the value is the distance from the start of its run of digits, modulo 10.
 */
function asciiDigit(d: string): string {
  let v = digitValues.get(d);
  if (v === undefined) {
    let cp = d.codePointAt(0) as number;
    let offset = 0;
    while (/\p{Nd}/u.test(String.fromCodePoint(cp - 1))) {
      cp--;
      offset++;
    }
    v = String(offset % 10);
    digitValues.set(d, v);
  }
  return v;
}

/** NFKC (full-width and other compatibility forms → plain), then every decimal digit → ASCII. */
export function normalizeForPii(text: string): string {
  if (!NON_ASCII.test(text)) return text;
  return text.normalize('NFKC').replace(NON_ASCII_DIGIT, asciiDigit);
}

export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/** ISO 13616: move the first four characters to the end, letters → 10..35, the number mod 97 must be 1. */
export function ibanValid(candidate: string): boolean {
  const iban = candidate.replace(/ /g, '').toUpperCase();
  if (iban.length < 15 || iban.length > 34) return false;
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let rem = 0;
  for (let i = 0; i < rearranged.length; i++) {
    const c = rearranged.charCodeAt(i);
    const v = c >= 65 ? c - 55 : c - 48;
    rem = v >= 10 ? (rem * 100 + v) % 97 : (rem * 10 + v) % 97;
  }
  return rem === 1;
}

/**
 * A payment card inside a candidate run: the whole run when its 13–19 digits pass Luhn; otherwise a
 * stretch of its digit groups written the way cards are (one block of 13–19 digits, groups of four
 * with a shorter last one, or 4-6-5 / 4-6-4), so that "0.0.0.0 4111.1111.1111.1111" or
 * "ref 1 4111 1111 1111 1111" do not hide a card behind the digits before it.
 */
function maskCards(run: string): string {
  const digits = run.replace(SEPARATORS, '');
  if (digits.length >= 13 && digits.length <= 19 && luhnValid(digits)) return '<CARD>';
  const parts = run.split(/([ .-])/); // digit groups at even indices, separators at odd ones
  let out = '';
  let i = 0;
  while (i < parts.length) {
    const end = cardAt(parts, i);
    if (end < 0) {
      out += parts[i] + (parts[i + 1] ?? '');
      i += 2;
    } else {
      out += `<CARD>${parts[end + 1] ?? ''}`;
      i = end + 2;
    }
  }
  return out;
}

/** The index of the last group of a card starting at group `i` of `parts`, or -1. */
function cardAt(parts: string[], i: number): number {
  const first = parts[i].length;
  if (first >= 13) return first <= 19 && luhnValid(parts[i]) ? i : -1;
  // Every group but the last has four digits — or the groups are 4-6-5 / 4-6-4.
  if (first !== 4) return -1;
  const amex = parts[i + 2]?.length === 6;
  let digits = parts[i];
  let best = -1;
  for (let j = i + 2; j < parts.length && digits.length < 19; j += 2) {
    const len = parts[j].length;
    digits += parts[j];
    if (digits.length >= 13 && digits.length <= 19 && (amex ? j === i + 4 : len <= 4) && luhnValid(digits)) best = j;
    if (amex ? j >= i + 4 : len !== 4) break;
  }
  return best;
}

function digitCount(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) n++;
  }
  return n;
}

export function anonymize(input: string): string {
  let text = normalizeForPii(input);
  if (text.includes('://') || /www\./i.test(text)) {
    text = text.replace(URL_RE, (url) => (url.includes('?') || /^[^/]*\/\/[^/]*@/.test(url) ? '<URL>' : url));
  }
  if (text.includes('?')) text = text.replace(SCHEMELESS_URL_RE, '<URL>');
  if (text.includes('@')) text = text.replace(EMAIL_RE, '<EMAIL>');
  const digits = DIGIT.test(text);
  if (digits) {
    text = text.replace(IBAN_RE, (m) => (ibanValid(m) ? '<IBAN>' : m));
    if (DOB_HINT.test(text)) text = text.replace(DOB_RE, (_m, key: string) => `${key}<DOB>`);
    text = text
      .replace(SSN_RE, (_m, key: string | undefined) => `${key ?? ''}<SSN>`)
      .replace(CARD_RE, maskCards)
      .replace(IPV4_RE, '<IP>');
  }
  // IPv6 addresses may have no decimal digit at all (::a, fe80::beef).
  if (IPV6_HINT.test(text)) {
    text = text.replace(IPV6_RE, (m) => (/[0-9a-f]/i.test(m) && isIPv6(m.split('%')[0]) ? '<IP>' : m));
  }
  if (!digits) return text;
  return text
    .replace(PHONE_RE, (m) => {
      // A bare digit run is left to the <NUMBER> rule: phone numbers are written with separators or '+'.
      const n = digitCount(m);
      return n >= 7 && n <= 15 && SEPARATOR_RE.test(m) && !DATE_RE.test(m) ? '<PHONE>' : m;
    })
    .replace(DIGITS_RE, '<NUMBER>');
}
