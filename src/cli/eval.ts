import { loadModel } from '../server.ts';
import { evaluateAny } from '../train/train.ts';
import {
  CliError,
  type Command,
  MODEL_OPTIONS,
  MODEL_OPTIONS_HELP,
  printJson,
  resolveSelectedModel,
  str,
  UsageError,
} from './args.ts';
import { DATA_OPTIONS, DATA_OPTIONS_HELP, readDataset } from './dataset.ts';

export const evalCommand: Command = {
  name: 'eval',
  summary: 'Evaluate a registered model on labelled data; prints accuracy, precision, recall, F1, ROC AUC, log loss.',
  usage: 'msg-cls eval --data FILE|spamassassin [--name NAME] [--alias ALIAS | --version N] [--positive LABEL]',
  help: `
${DATA_OPTIONS_HELP}
${MODEL_OPTIONS_HELP}
  --positive LABEL label that precision/recall/F1 are about (default spam, else the model's positive label)

Prints JSON: n, accuracy, precision, recall, f1, roc_auc, log_loss, brier, positive_label, model.
Every row is scored; for the corpus a model was trained on, that includes its training rows.`,
  options: { ...DATA_OPTIONS, ...MODEL_OPTIONS, positive: { type: 'string' } },
  async run(values) {
    if (str(values, 'alias') !== undefined && str(values, 'version') !== undefined) {
      throw new UsageError('give either --alias or --version, not both');
    }
    const ref = await resolveSelectedModel(values);
    const model = await loadModel(ref);
    const labels = model.classifier.labels;
    const positive = str(values, 'positive') ?? (labels.includes('spam') ? 'spam' : model.classifier.positiveLabel);
    if (!labels.includes(positive)) {
      throw new UsageError(
        `--positive ${JSON.stringify(positive)} is not one of the model's labels: ${labels.join(', ')}`,
      );
    }
    const { dataset, skipped } = await readDataset(values);
    let metrics: Awaited<ReturnType<typeof evaluateAny>>;
    try {
      metrics = await evaluateAny(model.classifier, dataset.examples, positive);
    } catch (err) {
      throw new CliError(`cannot evaluate on ${str(values, 'data')}: ${(err as Error).message}`, 1);
    }
    printJson({ ...metrics, bad_rows_skipped: skipped, model: { ...model.info, alias: ref.alias ?? null } });
    return 0;
  },
};
