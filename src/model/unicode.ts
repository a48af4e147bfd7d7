// Unicode-aware character folding and classification for the featurizer, memoised per code point.
//
// For each code point we compute once (lazily, on first sight) a folded code point and a class:
//   - folding: compatibility decomposition (NFKD: fullwidth "Ｆ" → "F", mathematical "𝐟" → "f",
//     superscript "²" → "2"), combining marks removed ("é" → "e"), lower-cased, and a few common Latin
//     look-alikes from Cyrillic/Greek mapped to Latin ("а" U+0430 → "a"), so that obfuscated spellings
//     fall onto the same features as plain ones. A character whose decomposition has more than one base
//     character (e.g. the ligature "ﬁ") keeps its own lower-case form.
//   - class: LETTER / DIGIT (word characters), SYMBOL (punctuation and symbols, incl. emoji), SPACE
//     (white space, controls) or IGNORE (format characters such as zero-width spaces and soft hyphens,
//     variation selectors and combining marks, which are dropped without breaking a word: "fr\u200Bee"
//     is "free").
// The tables cost nothing up front: ASCII is filled at module load, the rest on demand. Results depend
// only on the code point (and the ICU data of the Node.js build), so features are deterministic.

export const CLS_SPACE = 1;
export const CLS_LETTER = 2;
export const CLS_DIGIT = 3;
export const CLS_SYMBOL = 4;
export const CLS_IGNORE = 5;
/** Bit set in the class byte when the original character is an upper-case letter. */
export const CLS_UPPER = 0x80;
export const CLS_MASK = 0x7f;

/** Folded code point per BMP code unit (valid when BMP_CLASS[c] !== 0). */
const BMP_FOLD = new Uint32Array(65536);
/** Class byte per BMP code unit; 0 = not computed yet. */
const BMP_CLASS = new Uint8Array(65536);
const ASTRAL = new Map<number, number>(); // code point → (fold << 8) | class

const HOMOGLYPHS: Record<string, string> = {
  // Cyrillic lower-case letters that look like Latin ones
  '\u0430': 'a',
  '\u0435': 'e',
  '\u043e': 'o',
  '\u0440': 'p',
  '\u0441': 'c',
  '\u0443': 'y',
  '\u0445': 'x',
  '\u0456': 'i',
  '\u0458': 'j',
  '\u0455': 's',
  '\u0501': 'd',
  '\u04bb': 'h',
  '\u0454': 'e',
  '\u0432': 'b',
  '\u043a': 'k',
  '\u043c': 'm',
  '\u043d': 'h',
  '\u0442': 't',
  // Greek
  '\u03bf': 'o',
  '\u03b1': 'a',
  '\u03b9': 'i',
  '\u03ba': 'k',
  '\u03bd': 'v',
  '\u03c1': 'p',
  '\u03c4': 't',
  '\u03c5': 'u',
  '\u03c7': 'x',
};

const RE_MARK = /\p{M}/u;
const RE_MARKS = /\p{M}/gu;
const RE_FORMAT = /[\p{Cf}\u115f\u1160\u3164\uffa0]/u; // (variation selectors and U+034F are marks: RE_MARK)
const RE_SPACE = /[\s\p{Z}\p{Cc}]/u;
const RE_LETTER = /\p{L}/u;
const RE_DIGIT = /\p{N}/u;
const RE_UPPER = /[\p{Lu}\p{Lt}]/u;

function compute(cp: number): number {
  const ch = String.fromCodePoint(cp);
  if (RE_FORMAT.test(ch) || RE_MARK.test(ch)) return (cp << 8) | CLS_IGNORE;
  if (RE_SPACE.test(ch)) return (0x20 << 8) | CLS_SPACE;
  const upper = RE_UPPER.test(ch) ? CLS_UPPER : 0;
  let base = ch.normalize('NFKD').replace(RE_MARKS, '');
  if ([...base].length !== 1) base = ch;
  let folded = base.toLowerCase();
  if ([...folded].length !== 1) folded = base;
  folded = HOMOGLYPHS[folded] ?? folded;
  const fcp = folded.codePointAt(0) as number;
  let cls: number;
  if (RE_LETTER.test(folded)) cls = CLS_LETTER;
  else if (RE_DIGIT.test(folded)) cls = CLS_DIGIT;
  else if (RE_SPACE.test(folded))
    return (0x20 << 8) | CLS_SPACE; // e.g. NFKD of U+2000..200A
  else cls = CLS_SYMBOL;
  return (fcp << 8) | cls | upper;
}

/** Fill the table entry for BMP code unit c (not a surrogate). */
export function fillBmp(c: number): void {
  const v = compute(c);
  BMP_FOLD[c] = v >>> 8;
  BMP_CLASS[c] = v & 0xff;
}

/** (fold << 8) | class for an astral code point, memoised. */
export function astral(cp: number): number {
  let v = ASTRAL.get(cp);
  if (v === undefined) {
    v = compute(cp);
    ASTRAL.set(cp, v);
  }
  return v;
}

// ASCII fast path, filled eagerly.
for (let c = 0; c < 128; c++) fillBmp(c);

export { BMP_CLASS, BMP_FOLD };
