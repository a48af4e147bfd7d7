import { ArtifactError, saveModel } from '../model/load.ts';
import { registerVersion, setAlias, validateAlias, validateModelName } from '../registry/local.ts';
import { FromStoreError, parseSince, trainFromStore } from '../train/from-store.ts';
import { trainClassifier } from '../train/train.ts';
import { CliError, type Command, printJson, str, UsageError } from './args.ts';
import { DATA_OPTIONS, DATA_OPTIONS_HELP, readDataset } from './dataset.ts';

export const trainCommand: Command = {
  name: 'train',
  summary: 'Train a text classifier, register it as a new version, optionally point an alias at it.',
  usage:
    'msg-cls train --data FILE|spamassassin [--name NAME] [--alias ALIAS] [--seed N] [--positive LABEL] [--test-fraction F]\n       msg-cls train --from-store STORE_URL [--since 7d] [--data BASE] [--name NAME] [--alias ALIAS]',
  help: `
${DATA_OPTIONS_HELP}
  --name NAME                registered model to add a version to (default msg_cls)
  --alias ALIAS              point this alias (e.g. champion, challenger) at the new version
  --seed N                   seed for the split and the optimiser (default 42): same data + seed =
                             same model
  --positive LABEL           the positive label (default spam when present, else the second label)
  --test-fraction F          held-out share for evaluation, stratified (default 0.2)
  --registry DIR             model registry (env MODEL_REGISTRY, default ./models)

  --from-store STORE_URL     train on the service's labelled predictions instead (sqlite:<file> or
                             postgres://…; the service must run with STORE_TEXT=true); --data, if
                             given, is mixed in as a base dataset. The most recent --test-fraction
                             of them is held out and both the new model and the champion are scored
                             on it. --alias defaults to challenger.
  --since WHEN               with --from-store: labelled predictions since 7d, 12h, 30m ago or an ISO
                             date (default 14d, the longest texts are kept)

The data needs exactly two labels. Exact-duplicate texts are removed before the split. The model is
fitted on the training part; the printed metrics are measured on the held-out part, plus its subject
lines and first body lines alone when the data are e-mails. Prints JSON: name, version, alias, metrics.`,
  options: {
    ...DATA_OPTIONS,
    name: { type: 'string' },
    alias: { type: 'string' },
    seed: { type: 'string' },
    positive: { type: 'string' },
    'test-fraction': { type: 'string' },
    registry: { type: 'string' },
    'from-store': { type: 'string' },
    since: { type: 'string' },
  },
  async run(values) {
    if (str(values, 'from-store') !== undefined) return runFromStore(values);
    if (str(values, 'since') !== undefined) throw new UsageError('--since goes with --from-store');
    const registry = str(values, 'registry') ?? process.env.MODEL_REGISTRY ?? './models';
    const name = str(values, 'name') ?? 'msg_cls';
    const alias = str(values, 'alias');
    validateModelName(name);
    if (alias !== undefined) validateAlias(alias);
    const seed = Number(str(values, 'seed') ?? '42');
    if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 32 - 1) {
      throw new UsageError('--seed must be a whole number from 0 to 4294967295');
    }
    const testFraction = Number(str(values, 'test-fraction') ?? '0.2');
    if (!(testFraction > 0 && testFraction < 1)) throw new UsageError('--test-fraction must be between 0 and 1');

    const { dataset, skipped } = await readDataset(values);
    let trained: ReturnType<typeof trainClassifier>;
    try {
      trained = trainClassifier(dataset.examples, {
        seed,
        positiveLabel: str(values, 'positive'),
        testFraction,
        source: dataset.source,
      });
    } catch (err) {
      // The trainer's own errors describe the data (labels, too few rows): the user can fix those.
      throw new CliError(`cannot train on ${str(values, 'data')}: ${(err as Error).message}`, 1);
    }
    let bytes = 0;
    const ref = await registerVersion(registry, name, async (dir) => {
      const manifest = await saveModel(dir, trained).catch((err: unknown) => {
        throw err instanceof ArtifactError ? new CliError(err.message, 1) : err;
      });
      for (const f of Object.values(manifest.files)) bytes += f.bytes;
    });
    if (alias !== undefined) await setAlias(registry, name, alias, ref.version);
    const m = trained.manifest;
    printJson({
      name,
      version: ref.version,
      alias: alias ?? null,
      dir: ref.dir,
      labels: m.labels,
      positive_label: m.positive_label,
      metrics: trained.metrics,
      training: {
        rows_in: (m.training as Record<string, unknown>).rows_in,
        bad_rows_skipped: skipped,
        dedupe: (m.training as Record<string, unknown>).dedupe,
        label_counts: (m.training as Record<string, unknown>).label_counts,
        split: (m.training as Record<string, unknown>).split,
        seed,
      },
      artifact_bytes: bytes,
      timings_ms: trained.timings,
    });
    return 0;
  },
};

async function runFromStore(values: Record<string, unknown>): Promise<number> {
  const testFraction = Number(str(values, 'test-fraction') ?? '0.2');
  if (!(testFraction > 0 && testFraction < 1)) throw new UsageError('--test-fraction must be between 0 and 1');
  const name = str(values, 'name') ?? 'msg_cls';
  const alias = str(values, 'alias') ?? 'challenger';
  validateModelName(name);
  validateAlias(alias);
  const base = str(values, 'data') !== undefined ? (await readDataset(values)).dataset : undefined;
  try {
    printJson(
      await trainFromStore({
        storeUrl: str(values, 'from-store') as string,
        sinceTs: parseSince(str(values, 'since')),
        name,
        alias,
        championAlias: process.env.MODEL_ALIAS ?? 'champion',
        registry: str(values, 'registry') ?? process.env.MODEL_REGISTRY ?? './models',
        seed: Number(str(values, 'seed') ?? '42'),
        holdoutFraction: testFraction,
        base: base?.examples,
        baseSource: base?.source,
      }),
    );
  } catch (err) {
    if (err instanceof FromStoreError) throw new CliError(err.message, 1);
    throw err;
  }
  return 0;
}
