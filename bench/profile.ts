// `node bench/profile.ts`: a CPU profile of `POST /predict` under load. Starts `msg-cls serve` (default
// configuration: SQLite store in a temporary folder, logs to /dev/null) with `--cpu-prof`, loads it with
// autocannon, stops it, and prints where the main thread's time went: the top functions by self time
// and the same time grouped by where the code lives, each with its share of the samples.
//
//   node bench/profile.ts [--duration S] [--connections N] [--top N] [--root DIR] [--keep]
// --root profiles another checkout (e.g. an older commit, for a before/after); --keep leaves the
// .cpuprofile (open it in Chrome DevTools or speedscope).

import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { V8_FLAGS } from '../bin/runtime.js';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    top: { type: 'string', default: '15' },
    root: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const ROOT = args.root ? resolve(args.root) : fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'msgcls-profile-'));
const port = 20000 + Math.floor(Math.random() * 20000);
const proc = spawn(
  process.execPath,
  [...V8_FLAGS, '--cpu-prof', `--cpu-prof-dir=${dir}`, join(ROOT, 'bin/msg-cls.js'), 'serve'],
  {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', STORE_URL: `sqlite:${join(dir, 'p.db')}` },
    stdio: ['ignore', 'ignore', 'inherit'],
  },
);
const exited = new Promise((r) => proc.on('exit', r));
for (;;) {
  const ok = await fetch(`http://127.0.0.1:${port}/ready`).then(
    (r) => r.status === 200,
    () => false,
  );
  if (ok) break;
  await new Promise((r) => setTimeout(r, 20));
}
const scraper = setInterval(() => fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined), 1000);
const result = await autocannon({
  url: `http://127.0.0.1:${port}/predict`,
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ text: 'Buy cheap iPhone now! Limited offer, reply YES to claim your discount' }),
  connections: Number(args.connections),
  duration: Number(args.duration),
});
clearInterval(scraper);
proc.kill('SIGTERM');
await exited;

type Node = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number };
const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
if (!file) throw new Error(`no .cpuprofile written in ${dir}`);
const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nodes: Node[]; samples: number[] };
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const hits = new Map<number, number>();
for (const s of profile.samples) hits.set(s, (hits.get(s) ?? 0) + 1);
const total = profile.samples.length;

const where = (url: string): string => {
  if (url === '') return '(V8/native)';
  if (url.startsWith('node:')) return 'node: core';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  const rel = url.replace(`file://${ROOT}`, '').replace(/^\//, '');
  return rel.split('/').slice(0, 2).join('/');
};
const fn = new Map<string, number>();
const group = new Map<string, number>();
for (const [id, n] of hits) {
  const { functionName, url, lineNumber } = (byId.get(id) as Node).callFrame;
  const name = `${functionName || '(anonymous)'} ${url ? `${where(url)}:${lineNumber + 1}` : ''}`.trim();
  fn.set(name, (fn.get(name) ?? 0) + n);
  const g =
    functionName === '(garbage collector)' ? '(garbage collector)' : functionName === '(idle)' ? '(idle)' : where(url);
  group.set(g, (group.get(g) ?? 0) + n);
}
const pct = (n: number) => `${((n / total) * 100).toFixed(1).padStart(5)} %`;
const top = Number(args.top);
process.stdout.write(
  `${result.requests.average.toFixed(0)} req/s, ${total} samples (${args.duration} s at ${args.connections} connections, autocannon)\n\nTop functions by self time:\n`,
);
for (const [name, n] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${pct(n)}  ${name}\n`);
process.stdout.write('\nBy where the code lives:\n');
for (const [name, n] of [...group].sort((a, b) => b[1] - a[1]).slice(0, top))
  process.stdout.write(`${pct(n)}  ${name}\n`);
if (args.keep) process.stdout.write(`\nprofile: ${join(dir, file)}\n`);
else rmSync(dir, { recursive: true, force: true });
