// Replaces personal data in free text with typed placeholders before it can reach a log.
//
// Recipe: broad patterns find candidates, validators confirm them where a checksum exists
// (Luhn for payment cards, ISO 13616 mod-97 for IBANs, the platform's IPv6 parser), and each match
// becomes <EMAIL>, <PHONE>, <CARD>, <IBAN>, <IP>, <URL> or <NUMBER>. Order matters: URLs first
// (they contain e-mail-like credentials and digit runs), long digit runs last.
// All patterns are linear-time (no nested quantifiers over overlapping classes).

import { isIPv6 } from 'node:net';

export const PLACEHOLDERS = ['<URL>', '<EMAIL>', '<IBAN>', '<CARD>', '<IP>', '<PHONE>', '<NUMBER>'] as const;

const URL_RE = /\b(?:[a-z][a-z0-9+.-]{1,15}:\/\/|www\.)[^\s<>"'`]+/gi;
// The lookbehind starts a match only at the start of a run: without it, a long run with no '@'
// would be rescanned from every position (quadratic).
const EMAIL_RE = /(?<![a-z0-9._%+-])[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}/gi;
const IBAN_RE = /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b/g;
const CARD_RE = /\b\d(?:[ -]?\d){12,18}\b/g;
const IPV4_RE = /\b(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\/\d{1,2})?\b/g;
const IPV6_RE = /(?<![\w:])[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?:%\w+)?(?![\w:])/gi;
const PHONE_RE = /(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){1,4}(?![\w])/g;
const DIGITS_RE = /\d{6,}/g;
const SEPARATOR_RE = /[ .()+-]/;
// Dates look like phone numbers to the pattern above; they are not personal data on their own.
const DATE_RE = /^(?:\d{4}[-./]\d{2}[-./]\d{2}|\d{2}[-./]\d{2}[-./]\d{4})$/;

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

function digitCount(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) n++;
  }
  return n;
}

export function anonymize(text: string): string {
  return text
    .replace(URL_RE, (url) => (url.includes('?') || /^[^/]*\/\/[^/]*@/.test(url) ? '<URL>' : url))
    .replace(EMAIL_RE, '<EMAIL>')
    .replace(IBAN_RE, (m) => (ibanValid(m) ? '<IBAN>' : m))
    .replace(CARD_RE, (m) => {
      const digits = m.replace(/[ -]/g, '');
      return digits.length >= 13 && digits.length <= 19 && luhnValid(digits) ? '<CARD>' : m;
    })
    .replace(IPV4_RE, '<IP>')
    .replace(IPV6_RE, (m) => (/[0-9a-f]/i.test(m) && isIPv6(m.split('%')[0]) ? '<IP>' : m))
    .replace(PHONE_RE, (m) => {
      // A bare digit run is left to the <NUMBER> rule: phone numbers are written with separators or '+'.
      const n = digitCount(m);
      return n >= 7 && n <= 15 && SEPARATOR_RE.test(m) && !DATE_RE.test(m) ? '<PHONE>' : m;
    })
    .replace(DIGITS_RE, '<NUMBER>');
}
