// `npm run bench:memory`: the service's RSS against the Fly.io VM budget (256 MB) in three phases —
// after a sustained single-text load, after a batch load ({"texts": 256 texts}), and while thousands
// of idle or half-open connections are open (they must be closed after HEADERS_TIMEOUT_MS).
//
//   node bench/memory.ts [--single-s 60] [--batch-s 30] [--idle 3000] [--store off|sqlite] [--json]

import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { round, rssMb, startService, stopService, watchRss } from './lib.ts';

const { values: args } = parseArgs({
  options: {
    'single-s': { type: 'string', default: '60' },
    'batch-s': { type: 'string', default: '30' },
    idle: { type: 'string', default: '3000' },
    connections: { type: 'string', default: '32' },
    store: { type: 'string', default: 'off' },
    'budget-mb': { type: 'string', default: '256' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});
if (args.help) {
  process.stdout.write(`Usage: npm run bench:memory -- [--single-s 60] [--batch-s 30] [--idle 3000]
                                [--connections 32] [--store off|sqlite] [--budget-mb 256] [--json]

Starts msg-cls serve (default limits; STORE_URL=off as in the container, or a temporary SQLite file)
and reports its RSS (peak and after) for: --single-s seconds of {"text": ...} load, --batch-s seconds
of {"texts": [256 texts]} load, then --idle connections opened at once, half silent and half with a
request head that never completes (slowloris), held until the server closes them (HEADERS_TIMEOUT_MS,
here 5 s). Each figure is checked against --budget-mb with 25 % headroom.
`);
  process.exit(0);
}

const BUDGET = Number(args['budget-mb']);
const HEADROOM_OK = BUDGET * 0.75;
const TEXT = 'Buy cheap iPhone now! Limited offer, reply YES to claim your discount';
const tmp = mkdtempSync(join(tmpdir(), 'msgcls-memory-'));
const service = await startService({
  STORE_URL: args.store === 'sqlite' ? `sqlite:${join(tmp, 'store.db')}` : 'off',
  HEADERS_TIMEOUT_MS: '5000',
  ML_PAYLOAD_SAMPLE_RATE: '0.01',
});
const pid = service.proc.pid as number;

type Row = { phase: string; requests: number; peak_rss_mb: number; rss_after_mb: number; ok: boolean };
const rows: Row[] = [];

async function loadPhase(phase: string, seconds: number, body: string): Promise<void> {
  if (seconds <= 0) return;
  process.stderr.write(`${phase} for ${seconds} s…\n`);
  const watch = watchRss(pid);
  const r = await autocannon({
    url: `${service.url}/predict`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections: Number(args.connections),
    duration: seconds,
  });
  const peak = await watch.stop();
  const after = await rssMb(pid);
  rows.push({ phase, requests: r['2xx'], peak_rss_mb: peak, rss_after_mb: after, ok: peak <= HEADROOM_OK });
}

function open(port: number, halfOpen: boolean): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      if (halfOpen) s.write('POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n');
      resolve(s);
    });
    s.on('error', () => resolve(undefined));
    s.resume();
  });
}

async function idlePhase(n: number): Promise<void> {
  if (n <= 0) return;
  process.stderr.write(`${n} idle connections…\n`);
  const watch = watchRss(pid, 100);
  const sockets: Socket[] = [];
  for (let i = 0; i < n; i += 500) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(500, n - i) }, (_, j) => open(service.port, (i + j) % 2 === 1)),
    );
    for (const s of batch) if (s) sockets.push(s);
  }
  const opened = sockets.length;
  const closed = new Promise<number>((resolve) => {
    let left = sockets.length;
    const t = setTimeout(() => resolve(left), 15_000);
    for (const s of sockets) {
      s.once('close', () => {
        if (--left === 0) {
          clearTimeout(t);
          resolve(0);
        }
      });
    }
  });
  const stillOpen = await closed;
  const peak = await watch.stop();
  for (const s of sockets) s.destroy();
  await new Promise((r) => setTimeout(r, 500));
  rows.push({
    phase: `${opened} idle/half-open connections (${stillOpen} left open after 15 s)`,
    requests: 0,
    peak_rss_mb: peak,
    rss_after_mb: await rssMb(pid),
    ok: peak <= HEADROOM_OK && stillOpen === 0,
  });
}

try {
  rows.push({
    phase: 'ready, idle',
    requests: 0,
    peak_rss_mb: await rssMb(pid),
    rss_after_mb: await rssMb(pid),
    ok: true,
  });
  await loadPhase('single-text load', Number(args['single-s']), JSON.stringify({ text: TEXT }));
  await loadPhase(
    'batch load (256 texts)',
    Number(args['batch-s']),
    JSON.stringify({ texts: Array.from({ length: 256 }, (_, i) => `${TEXT} ${i}`) }),
  );
  await idlePhase(Number(args.idle));
} finally {
  await stopService(service);
  rmSync(tmp, { recursive: true, force: true });
}

if (args.json) {
  process.stdout.write(`${JSON.stringify({ budget_mb: BUDGET, rows }, null, 2)}\n`);
} else {
  process.stdout.write(`RSS against a ${BUDGET} MB VM (ok: peak ≤ ${round(HEADROOM_OK)} MB, 25 % headroom)\n`);
  process.stdout.write('| phase | requests | peak RSS MB | RSS after MB | ok |\n|---|---|---|---|---|\n');
  for (const r of rows) {
    process.stdout.write(
      `| ${r.phase} | ${r.requests} | ${r.peak_rss_mb} | ${r.rss_after_mb} | ${r.ok ? 'ok' : 'OVER'} |\n`,
    );
  }
}
if (rows.some((r) => !r.ok)) process.exitCode = 1;
