// A temporary registry for rollout tests: version 1 = the default model (champion), version 2 = a
// model trained on the synthetic chat corpus (challenger), trained in-process in ~0.2 s.

import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveModel } from '../../src/model/load.ts';
import { registerVersion, setAlias } from '../../src/registry/local.ts';
import { trainClassifier } from '../../src/train/train.ts';
import { chatCorpus } from '../fixtures/chat-corpus.ts';
import { DEFAULT_REGISTRY } from './server.ts';

export type TempRegistry = { root: string; cleanup(): Promise<void> };

export async function rolloutRegistry(opts: { challenger?: boolean } = {}): Promise<TempRegistry> {
  const root = await mkdtemp(join(tmpdir(), 'msgcls-rollout-'));
  await cp(join(DEFAULT_REGISTRY, 'msg_cls', 'versions', '1'), join(root, 'msg_cls', 'versions', '1'), {
    recursive: true,
  });
  await setAlias(root, 'msg_cls', 'champion', '1');
  if (opts.challenger !== false) {
    const trained = trainClassifier(chatCorpus(2000, 1), {
      seed: 42,
      testFraction: 0.2,
      source: { kind: 'chat-corpus', seed: 1 },
    });
    const ref = await registerVersion(root, 'msg_cls', async (dir) => {
      await saveModel(dir, trained);
    });
    await setAlias(root, 'msg_cls', 'challenger', ref.version);
  }
  return { root, cleanup: () => rm(root, { recursive: true, force: true }) };
}
