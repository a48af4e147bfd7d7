// `npm run bench`: loads the real service and a bare Fastify route side by side, in one run, with
// the same client, and prints throughput, latency, the ratio between them, cold start and memory.
// Ratios measured in the same run are what to compare: absolute numbers depend on the machine.
//
//   node bench/run.ts [--duration S] [--connections N] [--rounds N] [--json]

import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '2' },
    'cold-starts': { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});
if (args.help) {
  process.stdout.write(`Usage: npm run bench -- [--duration S] [--connections N] [--rounds N] [--cold-starts N] [--json]

Starts the service (msg-cls serve, default model) and a bare Fastify route returning a constant, loads
both on loopback with autocannon (same client, same body, alternating rounds), and prints requests/s,
p50/p99 latency, the service/bare ratio, cold start (spawn → first 200 from /ready, median of N) and
RSS after the run. Targets: ratio ≥ 0.6, cold start ≤ 400 ms, RSS ≤ 120 MB.
`);
  process.exit(0);
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DURATION = Number(args.duration);
const CONNECTIONS = Number(args.connections);
const ROUNDS = Number(args.rounds);
const COLD_STARTS = Number(args['cold-starts']);
const BODY = JSON.stringify({ text: 'Buy cheap iPhone now! Limited offer, reply YES to claim your discount' });

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

type Proc = { proc: ChildProcess; port: number; exited: Promise<number | null> };

function start(script: string, scriptArgs: string[], env: Record<string, string>, port: number): Proc {
  const proc = spawn(process.execPath, [script, ...scriptArgs], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return { proc, port, exited: new Promise((r) => proc.on('exit', (code) => r(code))) };
}

async function waitFor200(url: string, method = 'GET', body?: string): Promise<void> {
  for (;;) {
    try {
      const res = await fetch(url, { method, body, headers: body ? { 'content-type': 'application/json' } : {} });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function stop(p: Proc): Promise<void> {
  p.proc.kill('SIGTERM');
  await p.exited;
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
  return Math.round((kb / 1024) * 10) / 10;
}

type Load = { rps: number; p50: number; p99: number; non2xx: number; errors: number };

async function load(port: number): Promise<Load> {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/predict`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: BODY,
    connections: CONNECTIONS,
    duration: DURATION,
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const SERVICE = ['bin/msg-cls.js', ['serve']] as const;
const SERVICE_ENV = { LOG_LEVEL: 'info' };

async function coldStart(): Promise<number> {
  const port = await freePort();
  const t0 = performance.now();
  const p = start(SERVICE[0], [...SERVICE[1]], SERVICE_ENV, port);
  await waitFor200(`http://127.0.0.1:${port}/ready`);
  const ms = performance.now() - t0;
  await stop(p);
  return ms;
}

const log = (s: string) => {
  if (!args.json) process.stderr.write(`${s}\n`);
};

log(`bench: ${ROUNDS} round(s) × ${DURATION}s per target, ${CONNECTIONS} connections, node ${process.version}`);
const colds: number[] = [];
for (let i = 0; i < COLD_STARTS; i++) colds.push(await coldStart());
log(`cold starts (ms): ${colds.map((c) => c.toFixed(0)).join(', ')}`);

const bare = start('bench/bare-server.ts', [], {}, await freePort());
const service = start(SERVICE[0], [...SERVICE[1]], SERVICE_ENV, await freePort());
await waitFor200(`http://127.0.0.1:${bare.port}/predict`, 'POST', BODY);
await waitFor200(`http://127.0.0.1:${service.port}/ready`);

const runs: { bare: Load[]; service: Load[] } = { bare: [], service: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, p] of [
    ['bare', bare],
    ['service', service],
  ] as const) {
    const r = await load(p.port);
    runs[name].push(r);
    log(
      `round ${round + 1} ${name.padEnd(8)} ${r.rps.toFixed(0)} req/s  p50 ${r.p50} ms  p99 ${r.p99} ms  non-2xx ${r.non2xx}  errors ${r.errors}`,
    );
  }
}
const rss = await rssMb(service.proc.pid as number);
await stop(bare);
await stop(service);

const summarize = (xs: Load[]) => ({
  rps: Math.round(median(xs.map((x) => x.rps))),
  p50_ms: median(xs.map((x) => x.p50)),
  p99_ms: median(xs.map((x) => x.p99)),
  non2xx: xs.reduce((a, x) => a + x.non2xx, 0),
  errors: xs.reduce((a, x) => a + x.errors, 0),
});
const report = {
  node: process.version,
  connections: CONNECTIONS,
  duration_s: DURATION,
  rounds: ROUNDS,
  bare: summarize(runs.bare),
  predict: summarize(runs.service),
  ratio: 0,
  cold_start_ms: Math.round(median(colds)),
  rss_mb_after: rss,
  targets: {} as Record<string, { value: number; target: string; ok: boolean }>,
};
report.ratio = Math.round((report.predict.rps / report.bare.rps) * 100) / 100;
report.targets = {
  ratio: { value: report.ratio, target: '>= 0.6', ok: report.ratio >= 0.6 },
  cold_start_ms: { value: report.cold_start_ms, target: '<= 400', ok: report.cold_start_ms <= 400 },
  rss_mb_after: { value: report.rss_mb_after, target: '<= 120', ok: report.rss_mb_after <= 120 },
};

if (args.json) {
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} else {
  const t = report.targets;
  process.stdout.write(`
POST /predict   ${report.predict.rps} req/s   p50 ${report.predict.p50_ms} ms   p99 ${report.predict.p99_ms} ms   (non-2xx ${report.predict.non2xx}, errors ${report.predict.errors})
bare Fastify    ${report.bare.rps} req/s   p50 ${report.bare.p50_ms} ms   p99 ${report.bare.p99_ms} ms
ratio           ${report.ratio}   (target ${t.ratio.target}: ${t.ratio.ok ? 'ok' : 'MISSED'})
cold start      ${report.cold_start_ms} ms   (spawn → first 200 from /ready, median of ${COLD_STARTS}; target ${t.cold_start_ms.target}: ${t.cold_start_ms.ok ? 'ok' : 'MISSED'})
RSS after run   ${report.rss_mb_after} MB   (target ${t.rss_mb_after.target}: ${t.rss_mb_after.ok ? 'ok' : 'MISSED'})
`);
}
