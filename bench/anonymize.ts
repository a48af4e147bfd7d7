// Micro-benchmark of the anonymiser, which runs per logged ml_payload line and, with STORE_TEXT=true,
// per prediction: `node bench/anonymize.ts [--duration S]`. Prints µs per call for short messages,
// e-mail-sized texts and PII-dense texts. For comparing versions on one machine, not as a target.

import { readFileSync } from 'node:fs';
import { anonymize } from '../src/monitoring/anonymize.ts';

const args = process.argv.slice(2);
const duration = Number(args[args.indexOf('--duration') + 1] || 3) * 1000;

const short = readFileSync(new URL('../test/fixtures/short-messages.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l).text as string);
const paragraph =
  'Hello team, the build for version 2.14.3 is green again. The meeting moved to 14:30 in room 101; bring the Q3 numbers (revenue up 12% to $1,299,000). ';
const email = Array.from({ length: 8 }, (_, i) => `${paragraph}Item ${i + 1} of the list is done. `).join('\n');
const pii = [
  'mail john.doe@example.com or call +1 (555) 123-4567, card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00',
  'reset at example.com/reset?token=abc123 from 192.168.1.20, DOB 01/02/1980, SSN 123-45-6789, bob@localhost',
  'Ｃａｌｌ ４１１１１１１１１１１１１１１１ or 4111.1111.1111.1111 https://shop.example.com/cart?session=abc',
];

const sets: [string, string[]][] = [
  ['short messages (24)', short],
  ['e-mail (1.2 kB)', [email]],
  ['PII-dense (3 lines)', pii],
];

let sink = 0;
for (const [name, texts] of sets) {
  for (let i = 0; i < 2000; i++) sink += anonymize(texts[i % texts.length]).length; // warm-up
  let calls = 0;
  const start = performance.now();
  let now = start;
  while (now - start < duration / sets.length) {
    for (const t of texts) sink += anonymize(t).length;
    calls += texts.length;
    now = performance.now();
  }
  console.log(
    `${name.padEnd(22)} ${(((now - start) * 1000) / calls).toFixed(2).padStart(8)} µs/call  (${calls} calls)`,
  );
}
if (sink === 0) console.log('');
