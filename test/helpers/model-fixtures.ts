// Models the ONNX suites build themselves with the Python venv (test/fixtures/python/*.py), cached by
// the hash of the script and its inputs so that repeated runs are fast: in $MSGCLS_FIXTURE_CACHE, else
// <tmp>/msgcls-model-fixtures/<hash>. Concurrent builders race safely (build in a temp dir, rename).

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pythonPath, REPO_ROOT } from './python.ts';

const run = promisify(execFile);

export const FIXTURE_SCRIPTS = join(REPO_ROOT, 'test', 'fixtures', 'python');
export const TRAIN_JSONL = join(REPO_ROOT, 'test', 'fixtures', 'short-messages.jsonl');

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

/** Runs `python <script> <inputs...> <out>` once per content hash; returns the output directory. */
export async function pythonFixture(script: string, inputs: string[] = [TRAIN_JSONL]): Promise<string> {
  const scriptPath = join(FIXTURE_SCRIPTS, script);
  const hash = createHash('sha256');
  hash.update(await readFile(scriptPath));
  for (const i of inputs) hash.update(await readFile(i));
  const key = `${script.replace(/\.py$/, '')}-${hash.digest('hex').slice(0, 16)}`;
  const cache = process.env.MSGCLS_FIXTURE_CACHE ?? join(tmpdir(), 'msgcls-model-fixtures');
  const dir = join(cache, key);
  if (await exists(join(dir, '.complete'))) return dir;
  await mkdir(cache, { recursive: true });
  const tmp = await mkdtemp(join(cache, `.${key}-`));
  try {
    await run(pythonPath(), [scriptPath, ...inputs, tmp], {
      env: { ...process.env, PYTHONWARNINGS: 'ignore', TOKENIZERS_PARALLELISM: 'false' },
      maxBuffer: 16 * 1024 * 1024,
    });
    await writeFile(join(tmp, '.complete'), new Date().toISOString());
    await rename(tmp, dir).catch(async (err: NodeJS.ErrnoException) => {
      // Another test file built the same fixture first: use theirs.
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`building the ${script} fixture failed: ${e.message}\n${e.stderr ?? ''}`);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return dir;
}

/** A local registry holding `modelDir` as version 1 of `name`, alias champion; returns its root. */
export async function registryWith(name: string, modelDir: string): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'msgcls-onnx-registry-'));
  await cp(modelDir, join(root, name, 'versions', '1'), { recursive: true });
  await writeFile(join(root, name, 'aliases.json'), `${JSON.stringify({ champion: '1' })}\n`);
  return root;
}

export type SklearnExpected = {
  probes: string[];
  /** Probes of the unicode* variants (non-ASCII words). */
  unicode_probes: string[];
  models: Record<string, { classes: string[]; proba: number[][] }>;
};

export type BertExpected = {
  probes: string[];
  labels: string[];
  max_length: number;
  ids: number[][];
  logits: number[][];
  proba: number[][];
};

export async function readExpected<T>(dir: string): Promise<T> {
  return JSON.parse(await readFile(join(dir, 'expected.json'), 'utf8')) as T;
}
