// Retraining from the service's own traffic: `msg-cls train --from-store STORE_URL`. The predictions
// that received a feedback label (and kept their anonymised text: STORE_TEXT=true, 14 days at most)
// become training examples, optionally mixed with a base dataset. The most recent labelled slice is
// held out; the new model and the current champion are both scored on it, so the printout says
// whether retraining helped on today's traffic before anyone rolls it out. The new version is
// registered and an alias (default `challenger`) points at it, ready for a shadow or canary rollout.
//
// The stored text is anonymised (<EMAIL>, <PHONE>, <NUMBER>, <URL>, ...): the model learns those
// placeholders, not the numbers behind them. At serving time the text is raw; evaluating on the
// held-out slice (anonymised too) can therefore differ a little from what the service will see.

import { parseStoreUrl } from '../config.ts';
import type { Example } from '../data/types.ts';
import { loadClassifier, saveModel } from '../model/load.ts';
import { createLocalRegistry, registerVersion, setAlias } from '../registry/local.ts';
import { openStore } from '../store/open.ts';
import type { LabelledText } from '../store/types.ts';
import { evaluate, evaluateAny, trainClassifier } from './train.ts';

export type FromStoreOptions = {
  storeUrl: string;
  /** Labelled predictions made at or after this time (ms since the epoch). */
  sinceTs: number;
  name: string;
  alias: string;
  /** The alias of the version to compare with (default champion). */
  championAlias: string;
  registry: string;
  seed: number;
  /** Share of the most recent labelled predictions held out for the comparison. */
  holdoutFraction: number;
  /** Examples mixed into the training part (a base dataset), if any. */
  base?: readonly Example[];
  baseSource?: unknown;
  /** Most rows read from the store. */
  limit?: number;
};

export class FromStoreError extends Error {
  override name = 'FromStoreError';
}

const MIN_ROWS = 50;

/** Parses --since: a duration back from now (30m, 12h, 7d) or an ISO date/time. */
export function parseSince(s: string | undefined, now = Date.now()): number {
  if (s === undefined) return now - 14 * 86_400_000;
  const m = /^(\d+)\s*([mhd])$/.exec(s.trim());
  if (m) return now - Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'm' | 'h' | 'd'];
  const t = Date.parse(s);
  if (Number.isNaN(t)) {
    throw new FromStoreError(
      `--since ${JSON.stringify(s)} is not valid: use a duration such as 7d, 12h, 30m, or an ISO date`,
    );
  }
  return t;
}

async function readLabelled(opts: FromStoreOptions): Promise<LabelledText[]> {
  const problems: string[] = [];
  const config = parseStoreUrl(opts.storeUrl, problems);
  if (problems.length > 0) throw new FromStoreError(problems.join('; '));
  if (config.kind === 'off')
    throw new FromStoreError('--from-store needs a store URL (sqlite:<file> or postgres://…), not off');
  const store = await openStore({ ...config, poolSize: 2 });
  if (!store) throw new FromStoreError('--from-store needs a store URL');
  try {
    await store.migrate();
    return await store.labelledTexts({ sinceTs: opts.sinceTs, modelName: opts.name, limit: opts.limit ?? 1_000_000 });
  } finally {
    await store.close();
  }
}

export async function trainFromStore(opts: FromStoreOptions) {
  const rows = await readLabelled(opts);
  if (rows.length < MIN_ROWS) {
    throw new FromStoreError(
      `the store has ${rows.length} labelled predictions of ${opts.name} with text since ${new Date(opts.sinceTs).toISOString()}; at least ${MIN_ROWS} are needed. The service keeps texts only with STORE_TEXT=true (for RETENTION_PAYLOAD_DAYS), and only labelled ones count: send feedback (POST /feedback), or widen --since`,
    );
  }
  // Oldest first: the last `holdoutFraction` are the most recent slice, held out.
  const cut = Math.floor(rows.length * (1 - opts.holdoutFraction));
  const train: Example[] = rows.slice(0, cut).map((r) => ({ text: r.text, label: r.label }));
  const holdout: Example[] = rows.slice(cut).map((r) => ({ text: r.text, label: r.label }));
  const labels = new Set(train.map((e) => e.label));
  if (labels.size !== 2) {
    throw new FromStoreError(
      `the labelled predictions before the held-out slice carry ${labels.size} label(s) (${[...labels].join(', ')}); training needs exactly two`,
    );
  }
  const examples = opts.base ? [...train, ...opts.base] : train;
  const trained = trainClassifier(examples, {
    seed: opts.seed,
    source: {
      kind: 'store',
      store: opts.storeUrl.startsWith('postgres') ? 'postgres' : 'sqlite',
      since: new Date(opts.sinceTs).toISOString(),
      labelled_rows: rows.length,
      train_rows: train.length,
      holdout_rows: holdout.length,
      base: opts.baseSource ?? null,
    },
  });

  // The comparison on the held-out recent slice: the new model, and the champion as it is served.
  const newMetrics = evaluate(
    trained.classifier,
    holdout.filter((e) => trained.classifier.labels.includes(e.label)),
  );
  let champion: { version: string; metrics: ReturnType<typeof evaluate> } | null = null;
  try {
    const ref = await createLocalRegistry(opts.registry).resolve(opts.name, { alias: opts.championAlias });
    const { classifier } = await loadClassifier(ref.dir);
    champion = { version: ref.version, metrics: await evaluateAny(classifier, holdout) };
  } catch {
    // No champion yet (a first model): nothing to compare with.
  }

  const ref = await registerVersion(opts.registry, opts.name, async (dir) => {
    await saveModel(dir, trained);
  });
  await setAlias(opts.registry, opts.name, opts.alias, ref.version);
  const pick = (m: ReturnType<typeof evaluate>) => ({
    n: m.n,
    accuracy: m.accuracy,
    precision: m.precision,
    recall: m.recall,
    f1: m.f1,
  });
  return {
    name: opts.name,
    version: ref.version,
    alias: opts.alias,
    dir: ref.dir,
    data: {
      labelled_rows: rows.length,
      since: new Date(opts.sinceTs).toISOString(),
      train_rows: train.length,
      base_rows: opts.base?.length ?? 0,
      holdout_rows: holdout.length,
      holdout_from: new Date(rows[cut]?.ts ?? opts.sinceTs).toISOString(),
    },
    holdout: {
      new: pick(newMetrics),
      champion: champion ? { version: champion.version, ...pick(champion.metrics) } : null,
    },
    metrics: trained.metrics,
  };
}
