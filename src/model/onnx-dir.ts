// Model directories in formats other than our own, recognised by the files they hold:
//   MLmodel                           an MLflow model directory; its `onnx` flavor names the model file
//                                     (`data: model.onnx`)
//   *.onnx + tokenizer.json + config.json   a transformer classifier (./transformer.ts)
//   one *.onnx                        a scikit-learn pipeline converted by skl2onnx (./onnx.ts)
// The positive label (the one drift and `score` watch) is, in order: the caller's option, the MLmodel's
// `metadata.positive_label`, the ONNX file's metadata_props `positive_label`, the second class.
// Each gets a manifest synthesised from what the directory says (labels, files with checksums), so the
// rest of the service treats every format alike. They bring no drift reference.

import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { ArtifactError } from './errors.ts';
import { loadSklearnOnnx, ONNX_SKLEARN_FORMAT, OnnxModelError } from './onnx.ts';
import { readOnnxMetadata } from './onnx-proto.ts';
import type { Classifier, ModelManifest } from './types.ts';

export const MLMODEL_FILE = 'MLmodel';

export type LoadOptions = {
  /** The label whose probability drift watches and `score` means; default: the second class. */
  positiveLabel?: string;
};

export type ForeignModel = { classifier: Classifier; manifest: ModelManifest };

const errno = (err: unknown) => (err as NodeJS.ErrnoException).code ?? (err as Error).message;

async function read(dir: string, name: string): Promise<Buffer> {
  try {
    return await readFile(join(dir, name));
  } catch (err) {
    throw new ArtifactError(`cannot read ${join(dir, name)}: ${errno(err)}`);
  }
}

/** What an MLflow model directory says about serving it. */
export type MlflowModelInfo = { onnxFile: string; positiveLabel?: string; flavors: string[] };

/** Reads the MLmodel YAML (the `yaml` package is loaded only for MLflow directories). */
export async function readMlmodel(dir: string): Promise<MlflowModelInfo> {
  const path = join(dir, MLMODEL_FILE);
  const text = (await read(dir, MLMODEL_FILE)).toString('utf8');
  const { parse } = await import('yaml');
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new ArtifactError(`${path} is not valid YAML: ${(err as Error).message}`);
  }
  const flavors = (doc as { flavors?: Record<string, { data?: unknown }> } | null)?.flavors;
  if (!flavors || typeof flavors !== 'object') throw new ArtifactError(`${path} has no "flavors" section`);
  const onnx = flavors.onnx;
  if (!onnx || typeof onnx.data !== 'string' || onnx.data === '') {
    throw new ArtifactError(
      `${path} has no onnx flavor with a data file (flavors: ${Object.keys(flavors).join(', ')}); msg-cls serves ONNX models: convert the model (skl2onnx, torch.onnx.export) and log it with mlflow.onnx.log_model`,
    );
  }
  const rel = relative(dir, resolve(dir, onnx.data));
  if (isAbsolute(onnx.data) || rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
    throw new ArtifactError(`${path}: the onnx flavor's data "${onnx.data}" must be a file inside the model directory`);
  }
  const metadata = (doc as { metadata?: Record<string, unknown> }).metadata;
  const positive = metadata?.positive_label;
  return {
    onnxFile: onnx.data,
    positiveLabel: typeof positive === 'string' ? positive : undefined,
    flavors: Object.keys(flavors),
  };
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function manifestOf(
  format: string,
  classifier: Classifier,
  files: Record<string, Uint8Array>,
  createdAt: Date,
  model: Record<string, unknown>,
): ModelManifest {
  const meta: ModelManifest['files'] = {};
  for (const [name, bytes] of Object.entries(files)) meta[name] = { sha256: sha256(bytes), bytes: bytes.length };
  return {
    format,
    labels: [...classifier.labels],
    positive_label: classifier.positiveLabel,
    created_at: createdAt.toISOString(),
    featurizer: {},
    training: {},
    metrics: {},
    reference: {},
    files: meta,
    model,
  };
}

/** Loads a directory that holds an ONNX model (MLflow or plain); `entries` are its file names. */
export async function loadOnnxDirectory(
  dir: string,
  entries: readonly string[],
  options: LoadOptions = {},
): Promise<ForeignModel> {
  let onnxFile: string;
  let positiveLabel = options.positiveLabel;
  let source: 'mlflow' | 'onnx';
  const extra: Record<string, Uint8Array> = {};
  if (entries.includes(MLMODEL_FILE)) {
    const info = await readMlmodel(dir);
    onnxFile = info.onnxFile;
    positiveLabel ??= info.positiveLabel;
    source = 'mlflow';
    extra[MLMODEL_FILE] = await read(dir, MLMODEL_FILE);
  } else {
    const onnxFiles = entries.filter((e) => e.endsWith('.onnx'));
    if (onnxFiles.length === 0) throw new ArtifactError(`no .onnx file in ${dir}`);
    onnxFile = onnxFiles.includes('model.onnx') ? 'model.onnx' : onnxFiles[0];
    if (onnxFiles.length > 1 && onnxFile !== 'model.onnx') {
      throw new ArtifactError(
        `${dir} holds several .onnx files (${onnxFiles.join(', ')}) and none is model.onnx: keep one, or name the one to serve model.onnx`,
      );
    }
    source = 'onnx';
  }
  const bytes = await read(dir, onnxFile);
  try {
    positiveLabel ??= readOnnxMetadata(bytes).positive_label || undefined;
  } catch (err) {
    throw new ArtifactError(`${join(dir, onnxFile)}: not a readable ONNX model (${(err as Error).message})`);
  }
  const createdAt = (await stat(join(dir, onnxFile))).mtime;
  const where = join(dir, onnxFile);
  try {
    if (entries.includes('tokenizer.json') && entries.includes('config.json')) {
      const { loadTransformerDir, ONNX_TRANSFORMER_FORMAT } = await import('./transformer.ts');
      const t = await loadTransformerDir(dir, bytes, { positiveLabel });
      const files = { [onnxFile]: bytes, ...t.files, ...extra };
      const manifest = manifestOf(ONNX_TRANSFORMER_FORMAT, t.classifier, files, createdAt, {
        source,
        onnx_file: onnxFile,
        ...t.info,
      });
      return { classifier: t.classifier, manifest };
    }
    const classifier = await loadSklearnOnnx(bytes, { positiveLabel });
    const manifest = manifestOf(ONNX_SKLEARN_FORMAT, classifier, { [onnxFile]: bytes, ...extra }, createdAt, {
      source,
      onnx_file: onnxFile,
      probabilities_output: classifier.plan.probabilities,
      locale_rewritten_from: classifier.plan.localeRewrites,
      normalizers_replaced: classifier.plan.normalizersReplaced,
    });
    return { classifier, manifest };
  } catch (err) {
    if (err instanceof OnnxModelError) throw new ArtifactError(`${where}: ${err.message}`);
    throw err;
  }
}
