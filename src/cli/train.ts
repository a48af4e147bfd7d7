import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config.ts';
import { ArtifactError, saveModel } from '../model/load.ts';
import { RegistryError, registerVersion, setAlias, validateAlias, validateModelName } from '../registry/local.ts';
import { trainClassifier } from '../train/train.ts';
import { CliError, type Command, printJson, str, UsageError } from './args.ts';
import { DATA_OPTIONS, DATA_OPTIONS_HELP, readDataset } from './dataset.ts';

export const trainCommand: Command = {
  name: 'train',
  summary: 'Train a text classifier, register it as a new version (local or MLflow), optionally point an alias at it.',
  usage:
    'msg-cls train --data FILE|spamassassin [--name NAME] [--alias ALIAS] [--seed N] [--positive LABEL] [--test-fraction F] [--registry DIR|mlflow [--experiment E]]',
  help: `
${DATA_OPTIONS_HELP}
  --name NAME                registered model to add a version to (default msg_cls)
  --alias ALIAS              point this alias (e.g. champion, challenger) at the new version
  --seed N                   seed for the split and the optimiser (default 42): same data + seed =
                             same model
  --positive LABEL           the positive label (default spam when present, else the second label)
  --test-fraction F          held-out share for evaluation, stratified (default 0.2)
  --registry DIR             model registry (env MODEL_REGISTRY, default ./models)
  --registry mlflow          log the run to MLflow instead (MLFLOW_TRACKING_URI, with MLFLOW_TRACKING_USERNAME/
                             PASSWORD or MLFLOW_TRACKING_TOKEN when the server needs them): params, metrics
                             and the model's files as the run's artifact \`model/\`, registered as a new
                             version of NAME (created if needed), ALIAS pointed at it; then
                             \`MLFLOW_TRACKING_URI=… msg-cls serve\` serves it
  --experiment E             MLflow experiment of the run (created if needed; default msg-cls)

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
    experiment: { type: 'string' },
  },
  async run(values) {
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
    if (registry === 'mlflow') {
      return publish(values, trained, { name, alias, seed, testFraction, skipped });
    }
    if (str(values, 'experiment') !== undefined) throw new UsageError('--experiment goes with --registry mlflow');
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

async function publish(
  values: Record<string, unknown>,
  trained: ReturnType<typeof trainClassifier>,
  o: { name: string; alias: string | undefined; seed: number; testFraction: number; skipped: number },
): Promise<number> {
  const config = loadConfig(process.env);
  if (config.mlflow === undefined) {
    throw new CliError(
      '--registry mlflow needs MLFLOW_TRACKING_URI: set it to the tracking server, such as http://mlflow:5000',
      2,
    );
  }
  const { createMlflowClient } = await import('../registry/mlflow-client.ts');
  const { flattenMetrics, publishToMlflow } = await import('../registry/mlflow-publish.ts');
  const client = createMlflowClient(config.mlflow);
  const dir = await mkdtemp(join(tmpdir(), 'msg-cls-train-'));
  try {
    const manifest = await saveModel(join(dir, 'model'), trained);
    const m = trained.manifest;
    const training = m.training as Record<string, unknown>;
    const source = training.source as Record<string, unknown> | undefined;
    const published = await publishToMlflow(client, {
      experiment: str(values, 'experiment') ?? 'msg-cls',
      runName: `${o.name}-seed${o.seed}`,
      name: o.name,
      alias: o.alias,
      dir: join(dir, 'model'),
      format: m.format,
      params: {
        format: m.format,
        seed: o.seed,
        test_fraction: o.testFraction,
        positive_label: m.positive_label,
        labels: m.labels.join(','),
        data: String(source?.kind ?? str(values, 'data') ?? ''),
        rows_in: Number(training.rows_in ?? 0),
        bad_rows_skipped: o.skipped,
        hash_bits: Number((m.featurizer as Record<string, unknown>).hashBits ?? 0),
      },
      metrics: flattenMetrics(trained.metrics),
    }).catch((err: unknown) => {
      throw new CliError(
        `cannot log the run to MLflow ${client.location}: ${(err as Error).message}`,
        err instanceof RegistryError ? 2 : 1,
      );
    });
    printJson({
      name: o.name,
      version: published.version,
      alias: o.alias ?? null,
      registry: client.location,
      experiment_id: published.experiment_id,
      run_id: published.run_id,
      source: published.source,
      labels: m.labels,
      positive_label: m.positive_label,
      metrics: trained.metrics,
      artifact_bytes: Object.values(manifest.files).reduce((a, f) => a + f.bytes, 0),
    });
    return 0;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
