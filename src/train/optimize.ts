// Logistic regression on sparse rows, fitted with seeded AdaGrad SGD.

import { Rng } from './random.ts';

/** Rows in compressed sparse row form. Row r's entries are [indptr[r], indptr[r + 1]). */
export type SparseRows = {
  indptr: Int32Array;
  indices: Int32Array;
  values: Float32Array;
  nRows: number;
};

export type SgdOptions = {
  dim: number;
  epochs: number;
  /** AdaGrad base learning rate. */
  learningRate: number;
  /** L2 penalty, applied to the coordinates a row touches (lazy L2). */
  l2: number;
  seed: number;
};

export type LogisticFit = { weights: Float64Array; bias: number; epochLoss: number[] };

/** Pack per-row sparse vectors into one SparseRows. */
export function packRows(rows: { indices: Int32Array; values: Float32Array }[]): SparseRows {
  let nnz = 0;
  for (const r of rows) nnz += r.indices.length;
  const indptr = new Int32Array(rows.length + 1);
  const indices = new Int32Array(nnz);
  const values = new Float32Array(nnz);
  let o = 0;
  rows.forEach((r, k) => {
    indices.set(r.indices, o);
    values.set(r.values, o);
    o += r.indices.length;
    indptr[k + 1] = o;
  });
  return { indptr, indices, values, nRows: rows.length };
}

/**
 * Minimise Σ_r weight_r · logloss(y_r, σ(b + w·x_r)) + (l2/2)·‖w‖² (the penalty applied lazily, on the
 * coordinates of the current row) with per-coordinate AdaGrad steps, visiting rows in a fresh seeded
 * random order each epoch. Deterministic for a given seed.
 */
export function fitLogistic(
  X: SparseRows,
  y: Uint8Array,
  sampleWeight: Float32Array | undefined,
  opts: SgdOptions,
): LogisticFit {
  const { dim, epochs, learningRate: lr, l2 } = opts;
  const w = new Float64Array(dim);
  const G = new Float64Array(dim).fill(1e-6);
  let b = 0;
  let Gb = 1e-6;
  const rng = new Rng(opts.seed);
  const order = new Int32Array(X.nRows);
  for (let r = 0; r < X.nRows; r++) order[r] = r;
  const { indptr, indices, values } = X;
  const epochLoss: number[] = [];
  for (let e = 0; e < epochs; e++) {
    rng.shuffle(order);
    let loss = 0;
    for (let k = 0; k < order.length; k++) {
      const r = order[k];
      const start = indptr[r];
      const end = indptr[r + 1];
      let z = b;
      for (let j = start; j < end; j++) z += w[indices[j]] * values[j];
      const p = 1 / (1 + Math.exp(-z));
      const yr = y[r];
      const sw = sampleWeight ? sampleWeight[r] : 1;
      loss += sw * (yr ? -Math.log(Math.max(p, 1e-15)) : -Math.log(Math.max(1 - p, 1e-15)));
      const g = (p - yr) * sw;
      for (let j = start; j < end; j++) {
        const i = indices[j];
        const gi = g * values[j] + l2 * w[i];
        G[i] += gi * gi;
        w[i] -= (lr * gi) / Math.sqrt(G[i]);
      }
      Gb += g * g;
      b -= (lr * g) / Math.sqrt(Gb);
    }
    epochLoss.push(loss / X.nRows);
  }
  return { weights: w, bias: b, epochLoss };
}
