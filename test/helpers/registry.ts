// Test registries with several genuinely different versions of the default model, in a temp directory.

import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ModelManifest } from '../../src/model/types.ts';
import { setAlias } from '../../src/registry/local.ts';
import { DEFAULT_REGISTRY } from './server.ts';

export const NAME = 'msg_cls';

/** How a version differs from version 1 of the committed model. */
export type Variant =
  /** Same weights, bias moved by `bias` (so every probability changes). */
  | { kind: 'bias'; bias: number }
  /** Same model, but ships no drift reference (like an ONNX or MLflow model). */
  | { kind: 'no-reference'; bias?: number }
  /** Weights that do not match their checksum: fails to load. */
  | { kind: 'corrupt' }
  /** Other label names: fails validation against the served version. */
  | { kind: 'labels'; labels: [string, string] };

export type TestRegistry = {
  root: string;
  /** Points MODEL_ALIAS `champion` (or another alias) at a version, as `msg-cls models alias` does. */
  alias(version: string, alias?: string): Promise<void>;
  remove(): Promise<void>;
};

/**
 * A registry with version 1 = the committed model and versions 2.. = `variants` in order, alias
 * `champion` → 1.
 */
export async function makeRegistry(variants: Variant[]): Promise<TestRegistry> {
  const root = await mkdtemp(join(tmpdir(), 'msgcls-hotswap-'));
  const src = join(DEFAULT_REGISTRY, NAME, 'versions', '1');
  const versions = join(root, NAME, 'versions');
  await cp(src, join(versions, '1'), { recursive: true });
  for (const [i, v] of variants.entries()) {
    const dir = join(versions, String(i + 2));
    await cp(src, dir, { recursive: true });
    const path = join(dir, 'model.json');
    const manifest = JSON.parse(await readFile(path, 'utf8')) as ModelManifest & { model: { bias: number } };
    if (v.kind === 'bias' || v.kind === 'no-reference') manifest.model.bias += v.bias ?? 0;
    if (v.kind === 'no-reference') manifest.reference = {};
    if (v.kind === 'labels') {
      manifest.labels = v.labels;
      manifest.positive_label = v.labels[1];
    }
    if (v.kind === 'corrupt') {
      const weights = join(dir, 'weights.f16');
      const bytes = await readFile(weights);
      bytes[100] ^= 0xff;
      await writeFile(weights, bytes);
    }
    await writeFile(path, `${JSON.stringify(manifest, null, 2)}\n`);
  }
  await setAlias(root, NAME, 'champion', '1');
  return {
    root,
    alias: (version, alias = 'champion') => setAlias(root, NAME, alias, version),
    remove: () => rm(root, { recursive: true, force: true }),
  };
}
