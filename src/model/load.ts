// Model artifacts: saveModel writes a version directory, loadClassifier reads one back (our format
// here; MLflow and ONNX directories in ./onnx-dir.ts, loaded on demand).
//
// msgcls-linear/1 layout:
//   model.json    the ModelManifest (format, labels, featurizer settings, training summary, metrics,
//                 drift reference, and `files` with the SHA-256 and size of every other file)
//   weights.f16   2^hashBits little-endian IEEE 754 half-precision floats, one per hash bucket
//   vocab.bloom   Bloom filter bits over training word-token hashes (byte i holds bits 8i..8i+7, LSB first)
// The bias and the Bloom filter's hash count are in manifest.model.

import { createHash } from 'node:crypto';
import { access, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { ArtifactError } from './errors.ts';
import type { FeaturizerConfig } from './featurizer.ts';
import { LINEAR_FORMAT, LinearClassifier } from './linear.ts';
import type { LoadOptions } from './onnx-dir.ts';
import type { Classifier, ModelManifest } from './types.ts';
import { VocabFilter } from './vocab.ts';

export type { LoadOptions };

// Not imported from ./onnx-dir.ts: that module is loaded on demand.
const MLMODEL_FILE = 'MLmodel';

export const MANIFEST_FILE = 'model.json';
export const WEIGHTS_FILE = 'weights.f16';
export const VOCAB_FILE = 'vocab.bloom';

/** Format-specific parameters of msgcls-linear/1, stored as manifest.model. */
export type LinearModelSection = {
  weights_file: string;
  weights_dtype: 'float16-le';
  dim: number;
  bias: number;
  vocab_file: string | null;
  vocab_hashes: number;
};

/** What saveModel needs: the manifest without `files`, and the binary contents. */
export type SavableModel = {
  manifest: Omit<ModelManifest, 'files'>;
  files: Record<string, Uint8Array>;
};

export { ArtifactError };

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/**
 * Write a model version directory: the binary files first, then model.json with their checksums.
 * Refuses to overwrite an existing model.json unless `overwrite` is set. Returns the full manifest.
 */
export async function saveModel(
  dir: string,
  trained: SavableModel,
  options: { overwrite?: boolean } = {},
): Promise<ModelManifest> {
  await mkdir(dir, { recursive: true });
  const manifestPath = join(dir, MANIFEST_FILE);
  if (!options.overwrite) {
    const exists = await access(manifestPath).then(
      () => true,
      () => false,
    );
    if (exists) throw new ArtifactError(`${manifestPath} already exists (pass overwrite to replace it)`);
  }
  const files: ModelManifest['files'] = {};
  for (const [name, bytes] of Object.entries(trained.files).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (name === MANIFEST_FILE || name.includes('/') || name.includes('\\'))
      throw new ArtifactError(`invalid artifact file name "${name}"`);
    await writeFile(join(dir, name), bytes);
    files[name] = { sha256: sha256(bytes), bytes: bytes.length };
  }
  const manifest: ModelManifest = { ...trained.manifest, files };
  await writeFile(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/**
 * Load a model version directory. The format is chosen from the files it holds: model.json (our
 * msgcls-linear format, written by saveModel, checksums verified); MLmodel (an MLflow model directory
 * with an onnx flavor); a .onnx file with tokenizer.json + config.json (a transformer classifier); a
 * .onnx file alone (a scikit-learn pipeline converted by skl2onnx). See ./onnx-dir.ts.
 */
export async function loadClassifier(
  dir: string,
  options: LoadOptions = {},
): Promise<{ classifier: Classifier; manifest: ModelManifest }> {
  const manifestPath = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(manifestPath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      const entries = await readdir(dir).catch((e: NodeJS.ErrnoException) => {
        throw new ArtifactError(`cannot read model directory ${dir}: ${e.code ?? e.message}`);
      });
      if (entries.includes(MLMODEL_FILE) || entries.some((e) => e.endsWith('.onnx'))) {
        // Dynamic: the ONNX formats (and onnxruntime-node behind them) load only when a model needs them.
        const { loadOnnxDirectory } = await import('./onnx-dir.ts');
        return loadOnnxDirectory(dir, entries, options);
      }
      throw new ArtifactError(
        `no model in ${dir}: expected ${MANIFEST_FILE} (msgcls-linear, from msg-cls train), ${MLMODEL_FILE} (an MLflow model with an onnx flavor), or a .onnx file (with tokenizer.json and config.json for a transformer)`,
      );
    }
    throw new ArtifactError(`cannot read model manifest ${manifestPath}: ${code ?? (err as Error).message}`);
  }
  let manifest: ModelManifest;
  try {
    manifest = JSON.parse(text) as ModelManifest;
  } catch (err) {
    throw new ArtifactError(`model manifest ${manifestPath} is not valid JSON: ${(err as Error).message}`);
  }
  if (manifest === null || typeof manifest !== 'object' || typeof manifest.format !== 'string') {
    throw new ArtifactError(`model manifest ${manifestPath} has no "format" field`);
  }
  if (manifest.format === LINEAR_FORMAT) return { classifier: await loadLinear(dir, manifest), manifest };
  throw new ArtifactError(
    `unknown model format "${manifest.format}" in ${manifestPath} (this build loads: ${LINEAR_FORMAT})`,
  );
}

/** Read every file listed in manifest.files, checking size and SHA-256. */
async function readVerified(dir: string, manifest: ModelManifest): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const entries = Object.entries(manifest.files ?? {});
  const contents = await Promise.all(
    entries.map(async ([name]) => {
      const path = join(dir, name);
      try {
        return await readFile(path);
      } catch (err) {
        throw new ArtifactError(
          `model file ${path} listed in ${MANIFEST_FILE} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        );
      }
    }),
  );
  entries.forEach(([name, meta], k) => {
    const path = join(dir, name);
    const bytes = contents[k];
    if (bytes.length !== meta.bytes) {
      throw new ArtifactError(`model file ${path} is corrupt: ${bytes.length} bytes, expected ${meta.bytes}`);
    }
    const digest = sha256(bytes);
    if (digest !== meta.sha256) {
      throw new ArtifactError(
        `model file ${path} is corrupt: SHA-256 ${digest} does not match ${meta.sha256} recorded in ${MANIFEST_FILE}`,
      );
    }
    out.set(name, bytes);
  });
  return out;
}

async function loadLinear(dir: string, manifest: ModelManifest): Promise<LinearClassifier> {
  const where = join(dir, MANIFEST_FILE);
  const section = (manifest as ModelManifest & { model?: LinearModelSection }).model;
  if (!section || typeof section.bias !== 'number' || typeof section.weights_file !== 'string') {
    throw new ArtifactError(`${where}: missing or invalid "model" section for ${LINEAR_FORMAT}`);
  }
  if (section.weights_dtype !== 'float16-le')
    throw new ArtifactError(`${where}: unsupported weights_dtype "${section.weights_dtype}"`);
  if (!manifest.files?.[section.weights_file])
    throw new ArtifactError(`${where}: weights file "${section.weights_file}" is not listed in "files"`);
  if (section.vocab_file && !manifest.files[section.vocab_file])
    throw new ArtifactError(`${where}: vocabulary file "${section.vocab_file}" is not listed in "files"`);
  if (!Array.isArray(manifest.labels) || manifest.labels.length !== 2)
    throw new ArtifactError(`${where}: "labels" must list two labels`);
  const positive = manifest.positive_label;
  const negative = manifest.labels.find((l) => l !== positive);
  if (!manifest.labels.includes(positive) || negative === undefined) {
    throw new ArtifactError(`${where}: positive_label ${JSON.stringify(positive)} is not one of the two labels`);
  }
  const files = await readVerified(dir, manifest);
  const wbytes = files.get(section.weights_file) as Buffer;
  const featurizer = manifest.featurizer as unknown as FeaturizerConfig;
  const dim = 2 ** featurizer.hashBits;
  if (section.dim !== dim || wbytes.length !== dim * 2) {
    throw new ArtifactError(
      `${join(dir, section.weights_file)}: ${wbytes.length} bytes, expected ${dim * 2} (${dim} float16 weights for hashBits ${featurizer.hashBits}; manifest dim ${section.dim})`,
    );
  }
  const weights = decodeFloat16LE(wbytes, dim);
  let vocab: VocabFilter | null = null;
  if (section.vocab_file) {
    const vb = files.get(section.vocab_file) as Buffer;
    try {
      vocab = new VocabFilter(new Uint8Array(vb.buffer, vb.byteOffset, vb.length), section.vocab_hashes);
    } catch (err) {
      throw new ArtifactError(`${join(dir, section.vocab_file)}: ${(err as Error).message}`);
    }
  }
  try {
    return new LinearClassifier({ featurizer, weights, bias: section.bias, labels: [negative, positive], vocab });
  } catch (err) {
    throw new ArtifactError(`${where}: ${(err as Error).message}`);
  }
}

/** Half-precision little-endian bytes → Float32Array. */
export function decodeFloat16LE(bytes: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count);
  if (endianness() === 'LE' && bytes.byteOffset % 2 === 0) {
    out.set(new Float16Array(bytes.buffer, bytes.byteOffset, count));
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, count * 2);
    for (let i = 0; i < count; i++) out[i] = view.getFloat16(i * 2, true);
  }
  return out;
}

/** Float weights → half-precision little-endian bytes (round to nearest even). */
export function encodeFloat16LE(weights: ArrayLike<number>): Uint8Array {
  const bytes = new Uint8Array(weights.length * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < weights.length; i++) view.setFloat16(i * 2, weights[i], true);
  return bytes;
}
