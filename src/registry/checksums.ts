// checksums.json: the SHA-256 and size of every file of a local registry version whose format keeps no
// checksums of its own (an MLflow model directory, ONNX + tokenizer files added with `msg-cls models
// add`). Our own format lists them in model.json and its loader checks them; for the others the local
// registry checks this file whenever it hands a version out, so a damaged file is refused either way.

import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { RegistryError } from './local.ts';
import { type CachedFile, hashTree, safeRelativePath } from './model-cache.ts';

export const CHECKSUMS_FILE = 'checksums.json';

export type Checksums = { format: string; files: Record<string, CachedFile> };

export async function listTree(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split('\\').join('/'))
    .filter((rel) => rel !== CHECKSUMS_FILE)
    .sort();
}

export async function writeChecksums(dir: string, format: string): Promise<Checksums> {
  const sums: Checksums = { format, files: await hashTree(dir, await listTree(dir)) };
  await writeFile(join(dir, CHECKSUMS_FILE), `${JSON.stringify(sums, null, 2)}\n`);
  return sums;
}

/** Checks a version directory against its checksums.json, when it has one. */
export async function verifyChecksums(dir: string): Promise<void> {
  let text: string;
  try {
    text = await readFile(join(dir, CHECKSUMS_FILE), 'utf8');
  } catch {
    return;
  }
  let sums: Checksums;
  try {
    sums = JSON.parse(text) as Checksums;
  } catch {
    throw new RegistryError('invalid', `${join(dir, CHECKSUMS_FILE)} is not valid JSON: re-register the version`);
  }
  const rels = Object.keys(sums.files ?? {});
  const got = await hashTree(dir, rels.map(safeRelativePath)).catch((err: NodeJS.ErrnoException) => {
    throw new RegistryError(
      'invalid',
      `a file listed in ${join(dir, CHECKSUMS_FILE)} cannot be read (${err.code ?? err.message}): re-register the version`,
    );
  });
  for (const rel of rels) {
    const want = sums.files[rel];
    if (got[rel]?.sha256 !== want.sha256 || got[rel]?.bytes !== want.bytes) {
      throw new RegistryError(
        'invalid',
        `model file ${join(dir, rel)} is corrupt: its SHA-256 does not match ${CHECKSUMS_FILE}; re-register the version (\`msg-cls models add\`) or point the alias at another one`,
      );
    }
  }
}
