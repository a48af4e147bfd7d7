// Transformer text classifiers in ONNX (format "onnx-transformer"): a directory with the model
// (inputs input_ids, attention_mask and optionally token_type_ids → logits [N, C]), the Hugging Face
// tokenizer.json beside it (tokenised by @huggingface/tokenizers, which gives the same ids as Python),
// optionally tokenizer_config.json, and config.json whose id2label names the classes. Probabilities
// are the softmax of the logits.
//
// @huggingface/tokenizers has no truncation option, so texts are cut here to the model's limit, the
// way Python's tokenizer does with truncation=True: the special tokens the post-processor adds
// ([CLS] … [SEP]) are kept and the text's tokens are cut from the end.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSession, loadOrt, OnnxModelError } from './onnx.ts';
import { genericTextStats, type TextStats } from './text-stats.ts';
import type { AsyncClassifier, Prediction } from './types.ts';

export const ONNX_TRANSFORMER_FORMAT = 'onnx-transformer';

// Tokenizers' "no limit" placeholder for model_max_length is a huge number (1e30); anything above
// this is not a real limit.
const NO_LIMIT = 1_000_000;

type HfConfig = {
  id2label?: Record<string, string>;
  max_position_embeddings?: number;
  pad_token_id?: number;
  problem_type?: string;
};

type TokenizerConfig = { model_max_length?: number };

export type TransformerClassifier = AsyncClassifier & {
  textStats(text: string, out?: TextStats): TextStats;
  /** The token ids the model sees for `text` (special tokens included, truncated to `maxLength`). */
  encode(text: string): number[];
  readonly maxLength: number;
};

async function readJson<T>(dir: string, name: string, optional: boolean): Promise<{ value?: T; bytes?: Buffer }> {
  const path = join(dir, name);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    if (optional && (err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new OnnxModelError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return { value: JSON.parse(bytes.toString('utf8')) as T, bytes };
  } catch (err) {
    throw new OnnxModelError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Labels in id order from config.json's id2label ("0": "ham", "1": "spam"). */
function labelsOf(config: HfConfig, classes: number, where: string): string[] {
  const id2label = config.id2label;
  if (!id2label || typeof id2label !== 'object') {
    throw new OnnxModelError(`${where} has no id2label: add {"id2label": {"0": "...", "1": "..."}} naming the classes`);
  }
  const labels: string[] = [];
  for (let i = 0; i < classes; i++) {
    const l = id2label[String(i)];
    if (typeof l !== 'string' || l === '') {
      throw new OnnxModelError(`${where}: id2label has no name for class ${i} (the model has ${classes} classes)`);
    }
    labels.push(l);
  }
  if (new Set(labels).size !== labels.length) throw new OnnxModelError(`${where}: id2label repeats a label`);
  return labels;
}

export async function loadTransformerDir(
  dir: string,
  bytes: Uint8Array,
  options: { positiveLabel?: string },
): Promise<{ classifier: TransformerClassifier; files: Record<string, Uint8Array>; info: Record<string, unknown> }> {
  const [tokJson, tokConfig, config] = await Promise.all([
    readJson<object>(dir, 'tokenizer.json', false),
    readJson<TokenizerConfig>(dir, 'tokenizer_config.json', true),
    readJson<HfConfig>(dir, 'config.json', false),
  ]);
  const cfg = config.value as HfConfig;
  const { Tokenizer } = await import('@huggingface/tokenizers');
  let tokenizer: InstanceType<typeof Tokenizer>;
  try {
    tokenizer = new Tokenizer(tokJson.value as object, tokConfig.value ?? {});
  } catch (err) {
    throw new OnnxModelError(`${join(dir, 'tokenizer.json')} cannot be loaded: ${(err as Error).message}`);
  }

  const limits = [cfg.max_position_embeddings, tokConfig.value?.model_max_length].filter(
    (n): n is number => typeof n === 'number' && n > 0 && n < NO_LIMIT,
  );
  if (limits.length === 0) {
    throw new OnnxModelError(
      `${dir}: no length limit (config.json max_position_embeddings or tokenizer_config.json model_max_length); set one`,
    );
  }
  const maxLength = Math.min(...limits);

  // Where the post-processor puts its special tokens: compare a probe with and without them.
  const probe = 'hello world';
  const bare = tokenizer.encode(probe, { add_special_tokens: false }).ids;
  const full = tokenizer.encode(probe, { add_special_tokens: true }).ids;
  let prefix = 0;
  while (prefix < full.length && full[prefix] !== bare[0]) prefix++;
  const suffix = full.length - bare.length - prefix;
  if (suffix < 0 || prefix + suffix >= maxLength) {
    throw new OnnxModelError(`${join(dir, 'tokenizer.json')}: cannot tell where its special tokens go`);
  }
  const room = maxLength - prefix - suffix;

  const encodeOne = (text: string): { ids: number[]; types: number[] | undefined } => {
    const e = tokenizer.encode(text, { add_special_tokens: true, return_token_type_ids: true });
    let ids = e.ids;
    let types = e.token_type_ids;
    if (ids.length > maxLength) {
      const end = ids.length - suffix;
      ids = [...ids.slice(0, prefix + room), ...ids.slice(end)];
      if (types) types = [...types.slice(0, prefix + room), ...types.slice(end)];
    }
    return { ids, types };
  };

  const session = await createSession(bytes).catch((err: Error) => {
    throw new OnnxModelError(`onnxruntime cannot load the model: ${err.message.split('\n')[0]}`);
  });
  const names = session.inputNames;
  const release = async (message: string): Promise<never> => {
    await session.release();
    throw new OnnxModelError(message);
  };
  if (!names.includes('input_ids') || !names.includes('attention_mask')) {
    await release(
      `expected inputs input_ids and attention_mask (and optionally token_type_ids), found ${names.join(', ')}`,
    );
  }
  const unknownInput = names.find((n) => n !== 'input_ids' && n !== 'attention_mask' && n !== 'token_type_ids');
  if (unknownInput) await release(`unsupported model input "${unknownInput}" (inputs: ${names.join(', ')})`);
  const withTypes = names.includes('token_type_ids');
  const outMeta = session.outputMetadata.find((m) => m.name === 'logits') ?? session.outputMetadata[0];
  const classes = outMeta?.isTensor ? Number(outMeta.shape[outMeta.shape.length - 1]) : Number.NaN;
  if (!outMeta?.isTensor || !(classes >= 2)) {
    await release(
      `expected a logits output of shape [batch, classes] with a fixed number of classes, found ${session.outputNames.join(', ')}`,
    );
  }
  const logitsName = outMeta.name;
  let labels: string[];
  try {
    labels = labelsOf(cfg, classes, join(dir, 'config.json'));
  } catch (err) {
    return release((err as Error).message);
  }
  if (cfg.problem_type === 'multi_label_classification') {
    await release('config.json says problem_type multi_label_classification: msg-cls serves single-label classifiers');
  }
  const positiveLabel = options.positiveLabel ?? labels[1];
  if (!labels.includes(positiveLabel)) {
    await release(
      `positive label ${JSON.stringify(positiveLabel)} is not one of the model's labels: ${labels.join(', ')}`,
    );
  }
  const padId = cfg.pad_token_id ?? tokenizer.token_to_id('[PAD]') ?? 0;
  const { Tensor } = await loadOrt();
  const textStats = genericTextStats();

  const classifier: TransformerClassifier = {
    async: true,
    labels: Object.freeze([...labels]),
    positiveLabel,
    maxLength,
    textStats,
    encode: (text) => encodeOne(text).ids,
    async predictBatch(texts) {
      const n = texts.length;
      const encoded = texts.map(encodeOne);
      let len = 0;
      for (const e of encoded) if (e.ids.length > len) len = e.ids.length;
      // Padded to the longest text of the batch; padding is masked out.
      const ids = new BigInt64Array(n * len).fill(BigInt(padId));
      const mask = new BigInt64Array(n * len);
      const types = withTypes ? new BigInt64Array(n * len) : undefined;
      for (let i = 0; i < n; i++) {
        const e = encoded[i];
        for (let j = 0; j < e.ids.length; j++) {
          ids[i * len + j] = BigInt(e.ids[j]);
          mask[i * len + j] = 1n;
          if (types && e.types) types[i * len + j] = BigInt(e.types[j]);
        }
      }
      const feeds: Record<string, InstanceType<typeof Tensor>> = {
        input_ids: new Tensor('int64', ids, [n, len]),
        attention_mask: new Tensor('int64', mask, [n, len]),
      };
      if (types) feeds.token_type_ids = new Tensor('int64', types, [n, len]);
      const out = await session.run(feeds, [logitsName]);
      return softmaxRows(out[logitsName].data as Float32Array, n, labels);
    },
    dispose: () => session.release(),
  };
  const files: Record<string, Uint8Array> = {
    'tokenizer.json': tokJson.bytes as Buffer,
    'config.json': config.bytes as Buffer,
  };
  if (tokConfig.bytes) files['tokenizer_config.json'] = tokConfig.bytes;
  return {
    classifier,
    files,
    info: { max_length: maxLength, inputs: names, logits_output: logitsName, special_tokens: { prefix, suffix } },
  };
}

function softmaxRows(logits: Float32Array, n: number, labels: readonly string[]): Prediction[] {
  const c = labels.length;
  if (logits.length !== n * c) {
    throw new OnnxModelError(`the model returned ${logits.length} logits for ${n} texts, expected ${n * c}`);
  }
  const out = new Array<Prediction>(n);
  for (let i = 0; i < n; i++) {
    let max = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < c; j++) if (logits[i * c + j] > max) max = logits[i * c + j];
    let sum = 0;
    for (let j = 0; j < c; j++) sum += Math.exp(logits[i * c + j] - max);
    const probabilities: Record<string, number> = {};
    let best = 0;
    let bestP = -1;
    for (let j = 0; j < c; j++) {
      const p = Math.exp(logits[i * c + j] - max) / sum;
      probabilities[labels[j]] = p;
      if (p > bestP) {
        bestP = p;
        best = j;
      }
    }
    out[i] = { label: labels[best], proba: bestP, probabilities };
  }
  return out;
}
