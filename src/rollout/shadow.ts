// Shadow scoring: the champion answers; the challenger scores the same texts later, off the response
// path, in batches run from setImmediate. The queue is bounded: when the challenger falls behind, new
// texts are dropped (and counted) rather than holding memory or delaying answers. Agreement between
// the two versions and the distribution of their score differences are tallied here.

export type ShadowQueue<T> = {
  /** Queues one item; false (and counted as dropped) when the queue is full. */
  push(item: T): boolean;
  depth(): number;
  readonly capacity: number;
  dropped(): number;
  /** Runs what is queued now (tests, shutdown). */
  drain(): void;
};

/**
 * A bounded FIFO drained in batches of `batchSize` per setImmediate turn, so that answers queued
 * behind it on the event loop wait for one batch at most.
 */
export function createShadowQueue<T>(opts: {
  capacity: number;
  batchSize: number;
  run(items: readonly T[]): void;
  onDrop?(): void;
}): ShadowQueue<T> {
  const ring: (T | undefined)[] = new Array(opts.capacity);
  let head = 0;
  let size = 0;
  let drops = 0;
  let scheduled = false;
  const batch: T[] = [];

  const turn = () => {
    scheduled = false;
    const n = Math.min(size, opts.batchSize);
    for (let i = 0; i < n; i++) {
      batch.push(ring[head] as T);
      ring[head] = undefined;
      head = (head + 1) % opts.capacity;
    }
    size -= n;
    try {
      opts.run(batch);
    } finally {
      batch.length = 0;
      if (size > 0) schedule();
    }
  };
  const schedule = () => {
    if (!scheduled) {
      scheduled = true;
      setImmediate(turn);
    }
  };

  return {
    capacity: opts.capacity,
    push(item) {
      if (size >= opts.capacity) {
        drops++;
        opts.onDrop?.();
        return false;
      }
      ring[(head + size) % opts.capacity] = item;
      size++;
      schedule();
      return true;
    },
    depth: () => size,
    dropped: () => drops,
    drain() {
      while (size > 0) turn();
    },
  };
}

// challenger score − champion score (probability of the positive label), -1..1.
export const SCORE_DIFF_BOUNDS = [-0.5, -0.2, -0.1, -0.05, -0.01, 0.01, 0.05, 0.1, 0.2, 0.5, 1];

export type AgreementTally = {
  compared: number;
  agreed: number;
  /** Non-cumulative counts per SCORE_DIFF_BOUNDS bucket (last: above the last bound — never, as |diff| ≤ 1). */
  diff: Float64Array;
  diffSum: number;
};

export function createAgreementTally(): AgreementTally {
  return { compared: 0, agreed: 0, diff: new Float64Array(SCORE_DIFF_BOUNDS.length + 1), diffSum: 0 };
}

export function compare(
  t: AgreementTally,
  championLabel: string,
  challengerLabel: string,
  championScore: number,
  challengerScore: number,
): void {
  t.compared++;
  if (championLabel === challengerLabel) t.agreed++;
  const d = challengerScore - championScore;
  if (Number.isFinite(d)) {
    let i = 0;
    while (i < SCORE_DIFF_BOUNDS.length && d > SCORE_DIFF_BOUNDS[i]) i++;
    t.diff[i]++;
    t.diffSum += d;
  }
}
