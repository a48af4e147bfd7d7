// Hashed text features, computed in one linear pass over the text without allocating per call.
//
// Tokens: maximal runs of word characters (letters and digits after Unicode folding, see ./unicode.ts);
// format characters (zero-width space, soft hyphen, ...) are skipped inside words. Every other
// non-space character is a one-character "symbol" token ("$", "!", "€", emoji).
//
// Two feature blocks, both hashed (FNV-1a over code points, finished with the murmur3 mixer) into one
// weight space of 2^hashBits buckets:
//   word block: token unigrams, token bigrams (adjacent word tokens, symbols in between are skipped),
//               symbol unigrams;
//   char block: character n-grams (n = charMin..charMax) of each word token padded with a boundary
//               marker on both sides ("<buy>" → "<bu", "buy", "uy>", "<buy", ...), as in char_wb.
// Each block's counts go through sublinear TF (1 + ln tf) and are L2-normalised separately, then
// scaled by the block weight; the model's margin is bias + Σ w·x.

import {
  astral,
  BMP_CLASS,
  BMP_FOLD,
  CLS_DIGIT,
  CLS_IGNORE,
  CLS_LETTER,
  CLS_MASK,
  CLS_SPACE,
  CLS_SYMBOL,
  CLS_UPPER,
  fillBmp,
} from './unicode.ts';

export type FeaturizerConfig = {
  /** log2 of the number of hash buckets (weights). */
  hashBits: number;
  /** Character n-gram lengths (inclusive); charMax 0 disables the char block. */
  charMin: number;
  charMax: number;
  /** Word bigrams on/off. */
  wordBigrams: boolean;
  /** Symbol unigrams on/off. */
  symbols: boolean;
  /** Scale of each L2-normalised block. */
  wordWeight: number;
  charWeight: number;
};

export const DEFAULT_FEATURIZER: FeaturizerConfig = {
  hashBits: 18,
  charMin: 3,
  charMax: 5,
  wordBigrams: true,
  symbols: true,
  wordWeight: 1,
  charWeight: 1,
};

/** Per-text character/token statistics gathered during the same pass (see ./text-stats.ts). */
export type ScanCounts = {
  tokens: number;
  letters: number;
  upper: number;
  digits: number;
  /** Letters + digits + symbols (code points that are neither space nor ignorable). */
  visible: number;
  /** URLs, as ./text-stats.ts countUrls counts them — in the same pass, so drift needs no second scan. */
  urls: number;
};

/**
 * If a URL starts at `i` ("http://", "https://" or "www." not right after "//", case-insensitive), the
 * index of its last matched character; else -1. Checking resumes after that index (a "www." inside a
 * matched "http://www." is not counted twice).
 */
export function urlAt(text: string, i: number): number {
  const n = text.length;
  if (i + 3 >= n) return -1;
  const c = text.charCodeAt(i) | 0x20;
  if (c === 0x68 /* h */) {
    if (
      (text.charCodeAt(i + 1) | 0x20) === 0x74 &&
      (text.charCodeAt(i + 2) | 0x20) === 0x74 &&
      (text.charCodeAt(i + 3) | 0x20) === 0x70
    ) {
      let j = i + 4;
      if (j < n && (text.charCodeAt(j) | 0x20) === 0x73) j++;
      if (text.charCodeAt(j) === 0x3a && text.charCodeAt(j + 1) === 0x2f && text.charCodeAt(j + 2) === 0x2f)
        return j + 2;
    }
  } else if (c === 0x77 /* w */) {
    if (
      (text.charCodeAt(i + 1) | 0x20) === 0x77 &&
      (text.charCodeAt(i + 2) | 0x20) === 0x77 &&
      text.charCodeAt(i + 3) === 0x2e &&
      !(i >= 2 && text.charCodeAt(i - 1) === 0x2f && text.charCodeAt(i - 2) === 0x2f)
    )
      return i + 3;
  }
  return -1;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const BOUNDARY = 0x110000; // outside the code point range: the word-boundary marker of char n-grams
const SEED_UNIGRAM = 0x3c6ef372;
const SEED_BIGRAM = 0x7f4a7c15;
const SEED_SYMBOL = 0x5be0cd19;
const SEED_CHAR = 0x1f83d9ab; // + n

/** murmur3 32-bit finaliser: spreads FNV's weak low bits. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const MAX_GRAM = 8;
const RING_MASK = MAX_GRAM - 1;

export class Featurizer {
  readonly config: FeaturizerConfig;
  readonly dim: number;
  private readonly mask: number;
  // scratch, reused by every call (the process is single-threaded)
  private readonly wordCounts: Float32Array;
  private readonly charCounts: Float32Array;
  private wordTouched: Int32Array;
  private charTouched: Int32Array;
  private nWord = 0;
  private nChar = 0;
  private tokenHashes: Uint32Array;
  private readonly ring = new Int32Array(MAX_GRAM);
  /** Statistics of the last scanned text. */
  readonly counts: ScanCounts = { tokens: 0, letters: 0, upper: 0, digits: 0, visible: 0, urls: 0 };

  constructor(config: FeaturizerConfig) {
    if (!Number.isInteger(config.hashBits) || config.hashBits < 8 || config.hashBits > 26) {
      throw new Error(`featurizer hashBits must be an integer in 8..26, got ${config.hashBits}`);
    }
    if (
      config.charMax !== 0 &&
      !(config.charMin >= 1 && config.charMin <= config.charMax && config.charMax <= MAX_GRAM)
    ) {
      throw new Error(
        `featurizer char n-gram range ${config.charMin}..${config.charMax} is invalid (1 ≤ min ≤ max ≤ ${MAX_GRAM})`,
      );
    }
    this.config = { ...config };
    this.dim = 1 << config.hashBits;
    this.mask = this.dim - 1;
    this.wordCounts = new Float32Array(this.dim);
    this.charCounts = new Float32Array(this.dim);
    this.wordTouched = new Int32Array(256);
    this.charTouched = new Int32Array(1024);
    this.tokenHashes = new Uint32Array(256);
  }

  private addWord(h: number): void {
    const i = h & this.mask;
    if (this.wordCounts[i] === 0) {
      if (this.nWord === this.wordTouched.length) this.wordTouched = grow(this.wordTouched);
      this.wordTouched[this.nWord++] = i;
    }
    this.wordCounts[i] += 1;
  }

  private addChar(h: number): void {
    const i = h & this.mask;
    if (this.charCounts[i] === 0) {
      if (this.nChar === this.charTouched.length) this.charTouched = grow(this.charTouched);
      this.charTouched[this.nChar++] = i;
    }
    this.charCounts[i] += 1;
  }

  private pushToken(h: number, n: number): void {
    if (n === this.tokenHashes.length) {
      const next = new Uint32Array(n * 2);
      next.set(this.tokenHashes);
      this.tokenHashes = next;
    }
    this.tokenHashes[n] = h;
  }

  /**
   * Scan `text`: fill the scratch feature counts (unless `statsOnly`), the token hash list and
   * `this.counts`. Linear in text length. Call `dot`, `extract` or `reset` afterwards.
   */
  scan(text: string, statsOnly = false): void {
    const cfg = this.config;
    const charMin = cfg.charMin;
    const charMax = cfg.charMax;
    const bigrams = cfg.wordBigrams && !statsOnly;
    const symbols = cfg.symbols && !statsOnly;
    const chars = charMax > 0 && !statsOnly;
    const ring = this.ring;
    let letters = 0;
    let upper = 0;
    let digits = 0;
    let visible = 0;
    let tokens = 0;
    let inToken = false;
    let tokHash = 0;
    let prevTok = 0;
    let havePrev = false;
    let ringLen = 0; // number of code points in the current padded token so far (incl. the "<" marker)
    let urls = 0;
    let urlResume = 0;
    const n = text.length;
    for (let i = 0; i <= n; i++) {
      let cls: number;
      let f: number;
      if (i === n) {
        cls = CLS_SPACE; // flush the last token
        f = 0x20;
      } else {
        const c = text.charCodeAt(i);
        if (c >= 0xd800 && c <= 0xdfff) {
          const d = i + 1 < n ? text.charCodeAt(i + 1) : 0;
          if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
            const v = astral(((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000);
            cls = v & 0xff;
            f = v >>> 8;
            i++;
          } else {
            cls = CLS_SYMBOL; // lone surrogate
            f = 0xfffd;
          }
        } else {
          const lc = c | 0x20;
          if ((lc === 0x68 || lc === 0x77) && i >= urlResume) {
            const end = urlAt(text, i);
            if (end >= 0) {
              urls++;
              urlResume = end + 1;
            }
          }
          cls = BMP_CLASS[c];
          if (cls === 0) {
            fillBmp(c);
            cls = BMP_CLASS[c];
          }
          f = BMP_FOLD[c];
        }
      }
      const k = cls & CLS_MASK;
      if (k === CLS_LETTER || k === CLS_DIGIT) {
        visible++;
        if (k === CLS_LETTER) {
          letters++;
          if (cls & CLS_UPPER) upper++;
        } else digits++;
        if (!inToken) {
          inToken = true;
          tokHash = FNV_OFFSET;
          ring[0] = BOUNDARY;
          ringLen = 1;
        }
        tokHash = Math.imul(tokHash ^ f, FNV_PRIME);
        if (chars) {
          ring[ringLen & RING_MASK] = f;
          ringLen++;
          this.charGrams(ringLen, charMin, charMax);
        }
        continue;
      }
      if (k === CLS_IGNORE) continue;
      if (inToken) {
        inToken = false;
        const h = fmix32(tokHash ^ SEED_UNIGRAM);
        this.pushToken(h, tokens);
        tokens++;
        if (!statsOnly) {
          this.addWord(h);
          if (bigrams && havePrev) this.addWord(fmix32((Math.imul(prevTok, 0x9e3779b1) ^ h ^ SEED_BIGRAM) >>> 0));
          if (chars) {
            ring[ringLen & RING_MASK] = BOUNDARY;
            ringLen++;
            this.charGrams(ringLen, charMin, charMax);
          }
        }
        prevTok = h;
        havePrev = true;
      }
      if (k === CLS_SYMBOL) {
        visible++;
        if (symbols) this.addWord(fmix32(Math.imul(SEED_SYMBOL ^ f, FNV_PRIME)));
      }
    }
    const counts = this.counts;
    counts.tokens = tokens;
    counts.letters = letters;
    counts.upper = upper;
    counts.digits = digits;
    counts.visible = visible;
    counts.urls = urls;
  }

  /** Emit the char n-grams (n = min..max) that end at the newest ring entry. */
  private charGrams(len: number, min: number, max: number): void {
    const ring = this.ring;
    const top = Math.min(max, len);
    // Hash backwards from the newest code point, emitting each length in min..top as we pass it.
    let h = FNV_OFFSET;
    for (let g = 1; g <= top; g++) {
      h = Math.imul(h ^ ring[(len - g) & RING_MASK], FNV_PRIME);
      if (g >= min) this.addChar(fmix32(h ^ (SEED_CHAR + g)));
    }
  }

  /** Token hashes (unigram hashes) of the last scan. */
  tokenHash(i: number): number {
    return this.tokenHashes[i];
  }

  /** Margin contribution Σ w·x of the last scan; resets the scratch. */
  dot(weights: Float32Array | Float64Array): number {
    const cfg = this.config;
    let sw = 0;
    let nw = 0;
    const wc = this.wordCounts;
    const wt = this.wordTouched;
    for (let j = 0; j < this.nWord; j++) {
      const i = wt[j];
      const c = wc[i];
      const v = c === 1 ? 1 : 1 + Math.log(c);
      sw += weights[i] * v;
      nw += v * v;
      wc[i] = 0;
    }
    let sc = 0;
    let nc = 0;
    const cc = this.charCounts;
    const ct = this.charTouched;
    for (let j = 0; j < this.nChar; j++) {
      const i = ct[j];
      const c = cc[i];
      const v = c === 1 ? 1 : 1 + Math.log(c);
      sc += weights[i] * v;
      nc += v * v;
      cc[i] = 0;
    }
    this.nWord = 0;
    this.nChar = 0;
    let z = 0;
    if (nw > 0) z += (cfg.wordWeight * sw) / Math.sqrt(nw);
    if (nc > 0) z += (cfg.charWeight * sc) / Math.sqrt(nc);
    return z;
  }

  /** The last scan's feature vector as a sparse row (duplicate indices possible); resets the scratch. */
  extract(): { indices: Int32Array; values: Float32Array } {
    const cfg = this.config;
    const total = this.nWord + this.nChar;
    const indices = new Int32Array(total);
    const values = new Float32Array(total);
    let o = 0;
    o = this.emitBlock(this.wordCounts, this.wordTouched, this.nWord, cfg.wordWeight, indices, values, o);
    this.emitBlock(this.charCounts, this.charTouched, this.nChar, cfg.charWeight, indices, values, o);
    this.nWord = 0;
    this.nChar = 0;
    return { indices, values };
  }

  private emitBlock(
    counts: Float32Array,
    touched: Int32Array,
    n: number,
    scale: number,
    indices: Int32Array,
    values: Float32Array,
    o: number,
  ): number {
    let norm = 0;
    for (let j = 0; j < n; j++) {
      const c = counts[touched[j]];
      const v = c === 1 ? 1 : 1 + Math.log(c);
      norm += v * v;
    }
    const k = norm > 0 ? scale / Math.sqrt(norm) : 0;
    for (let j = 0; j < n; j++) {
      const i = touched[j];
      const c = counts[i];
      indices[o] = i;
      values[o] = (c === 1 ? 1 : 1 + Math.log(c)) * k;
      o++;
      counts[i] = 0;
    }
    return o;
  }

  /** Clear the scratch without using it. */
  reset(): void {
    for (let j = 0; j < this.nWord; j++) this.wordCounts[this.wordTouched[j]] = 0;
    for (let j = 0; j < this.nChar; j++) this.charCounts[this.charTouched[j]] = 0;
    this.nWord = 0;
    this.nChar = 0;
  }
}

function grow(a: Int32Array): Int32Array {
  const next = new Int32Array(a.length * 2);
  next.set(a);
  return next;
}
