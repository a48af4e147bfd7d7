// A Bloom filter over the hashes of the word tokens seen in training, so that the service can tell the
// share of a text's tokens that the model has never seen (the `unknown_token_share` drift feature)
// without shipping the vocabulary itself.

import { fmix32 } from './featurizer.ts';

export class VocabFilter {
  readonly bits: Uint8Array;
  readonly hashes: number;
  private readonly mask: number;

  /** `bits.length * 8` must be a power of two; `hashes` probes per token. */
  constructor(bits: Uint8Array, hashes: number) {
    const m = bits.length * 8;
    if (m < 8 || (m & (m - 1)) !== 0) throw new Error(`vocabulary filter size must be a power of two bits, got ${m}`);
    if (!Number.isInteger(hashes) || hashes < 1 || hashes > 16)
      throw new Error(`vocabulary filter hash count must be 1..16, got ${hashes}`);
    this.bits = bits;
    this.hashes = hashes;
    this.mask = m - 1;
  }

  static empty(log2Bits: number, hashes: number): VocabFilter {
    return new VocabFilter(new Uint8Array(1 << (log2Bits - 3)), hashes);
  }

  add(tokenHash: number): void {
    const h2 = fmix32(tokenHash ^ 0x5bd1e995) | 1;
    let h = tokenHash;
    for (let k = 0; k < this.hashes; k++) {
      const i = h & this.mask;
      this.bits[i >>> 3] |= 1 << (i & 7);
      h = (h + h2) | 0;
    }
  }

  has(tokenHash: number): boolean {
    const h2 = fmix32(tokenHash ^ 0x5bd1e995) | 1;
    let h = tokenHash;
    for (let k = 0; k < this.hashes; k++) {
      const i = h & this.mask;
      if ((this.bits[i >>> 3] & (1 << (i & 7))) === 0) return false;
      h = (h + h2) | 0;
    }
    return true;
  }

  /** Expected false-positive rate after inserting `n` distinct tokens. */
  falsePositiveRate(n: number): number {
    const m = this.mask + 1;
    return (1 - Math.exp((-this.hashes * n) / m)) ** this.hashes;
  }
}
