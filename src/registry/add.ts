// `msg-cls models add NAME DIR`: registers a model directory as a new version of the local registry, so
// that the local registry serves what MLflow serves — our own format, an MLflow model directory (MLmodel
// + model.onnx …), or ONNX + tokenizer files. The copy must load (src/model/load.ts) before it becomes
// a version; formats without checksums of their own get checksums.json.

import { access, cp, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadClassifier, MANIFEST_FILE } from '../model/load.ts';
import { writeChecksums } from './checksums.ts';
import { RegistryError, registerVersion, setAlias, validateAlias, validateModelName } from './local.ts';

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** Our own format keeps its checksums in model.json; anything else is described by its files. */
async function ownFormat(dir: string): Promise<string | undefined> {
  try {
    const m = JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')) as { format?: unknown; files?: unknown };
    return typeof m.format === 'string' && m.files !== undefined ? m.format : undefined;
  } catch {
    return undefined;
  }
}

export async function addModelDir(root: string, name: string, dir: string, alias: string | undefined) {
  validateModelName(name);
  if (alias !== undefined) validateAlias(alias);
  const src = resolve(dir);
  if (
    !(await stat(src).then(
      (s) => s.isDirectory(),
      () => false,
    ))
  ) {
    throw new RegistryError('not_found', `${dir} is not a directory: give the directory that holds the model's files`);
  }
  let format = '';
  let labels: readonly string[] = [];
  const ref = await registerVersion(root, name, async (tmp) => {
    await cp(src, tmp, { recursive: true });
    const own = await ownFormat(tmp);
    if (own === undefined) {
      format = (await exists(join(tmp, 'MLmodel'))) ? 'mlflow-model' : 'files';
      await writeChecksums(tmp, format);
    } else {
      format = own;
    }
    try {
      const { classifier } = await loadClassifier(tmp);
      labels = classifier.labels;
      await (classifier as { dispose?: () => Promise<void> | void }).dispose?.();
    } catch (err) {
      throw new RegistryError(
        'invalid',
        `${dir} does not load as a model, so nothing was registered: ${(err as Error).message.replaceAll(tmp, src)}`,
      );
    }
  });
  if (alias !== undefined) await setAlias(root, name, alias, ref.version);
  return { name, version: ref.version, alias: alias ?? null, dir: ref.dir, format, labels };
}
