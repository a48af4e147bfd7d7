// `npm run bench`: loads the real service and a bare Fastify route side by side, in one run, with
// the same client, and prints throughput, latency, the ratio between them, cold start and memory.
// Ratios measured in the same run are what to compare: absolute numbers depend on the machine.
//
//   node bench/run.ts [--duration S] [--connections N] [--rounds N] [--variants a,b] [--long] [--json]
//
// The onnx-* variants serve models the Python venv builds (test/fixtures/python/, cached): a
// scikit-learn pipeline trained on the same corpus as our default model, and the tiny test transformer.

import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';
import { MALLOC_ENV, V8_FLAGS } from '../bin/runtime.js';
import { loadSpamAssassin } from '../src/data/load.ts';
import { pythonFixture, registryWith } from '../test/helpers/model-fixtures.ts';
import { freePort } from './lib.ts';

// Each SQLite variant writes to its own file in a temporary folder, removed at the end.
const TMP = mkdtempSync(join(tmpdir(), 'msgcls-bench-'));
const sqlite = (name: string) => `sqlite:${join(TMP, `${name}.db`)}`;

// What is loaded. `service` is the default configuration (metrics on and scraped every second as a
// Prometheus would, access/business logs on, the prediction log in SQLite); the others switch one
// thing off, or change the store, to price it. The store variants are compared with `store-off`.
type Variant = {
  env: Record<string, string>;
  scrape: boolean;
  watch?: boolean;
  what: string;
  body?: string;
  onnx?: 'sklearn' | 'bert';
};
// The store's batch load: 256 texts a request, 256 prediction records — what the writer must sustain.
const BATCH256_BODY = JSON.stringify({
  texts: Array.from({ length: 256 }, (_, i) => `hello ${i}, reply YES to claim`),
});
const isBatch256 = (name: string) => VARIANTS[name].body === BATCH256_BODY;
const BATCH_TEXTS = Array.from({ length: 64 }, (_, i) => `Message ${i}: buy cheap iPhone now, or see you at lunch?`);
const BATCH_BODY = JSON.stringify({ texts: BATCH_TEXTS });
const VARIANTS: Record<string, Variant> = {
  service: {
    env: { STORE_URL: sqlite('service') },
    scrape: true,
    watch: true,
    what: 'default config (store: SQLite); /metrics scraped every 1 s and /dashboard/data polled every 2 s during the load',
  },
  'no-dashboard': {
    env: { DASHBOARD_ENABLED: 'false', STORE_URL: sqlite('no-dashboard') },
    scrape: true,
    what: 'DASHBOARD_ENABLED=false (no per-second sampler, nobody watching)',
  },
  'store-off': { env: { STORE_URL: 'off' }, scrape: true, what: 'STORE_URL=off (drift still on)' },
  'store-sqlite': {
    env: { STORE_URL: sqlite('text'), STORE_TEXT: 'true' },
    scrape: true,
    what: 'SQLite store with STORE_TEXT=true (anonymised text stored too)',
  },
  'store-postgres': {
    env: { STORE_URL: '' },
    scrape: true,
    what: 'PostgreSQL store (--postgres-url; a fresh database msgcls_bench is created)',
  },
  'no-metrics': {
    env: { METRICS_ENABLED: 'false', STORE_URL: sqlite('no-metrics') },
    scrape: false,
    what: 'METRICS_ENABLED=false',
  },
  'no-logs': {
    env: { LOG_LEVEL: 'warn', STORE_URL: sqlite('no-logs') },
    scrape: true,
    what: 'LOG_LEVEL=warn (no access/business/payload lines)',
  },
  // Batch load: every request is {"texts": [256 texts]}, so 256 prediction records a request — what the
  // store's writer must sustain without dropping any (compare with batch-store-off).
  'batch-store-off': {
    env: { STORE_URL: 'off' },
    scrape: true,
    body: BATCH256_BODY,
    what: 'batches of 256 texts, STORE_URL=off',
  },
  'batch-sqlite': {
    env: { STORE_URL: sqlite('batch') },
    scrape: true,
    body: BATCH256_BODY,
    what: 'batches of 256 texts, SQLite store',
  },
  'batch-postgres': {
    env: { STORE_URL: '' },
    scrape: true,
    body: BATCH256_BODY,
    what: 'batches of 256 texts, PostgreSQL store (a fresh database msgcls_bench_batch)',
  },
  'service-batch64': {
    env: { STORE_URL: sqlite('service-batch64') },
    scrape: true,
    body: BATCH_BODY,
    what: 'default config, {"texts": [...64 texts]} per request',
  },
  'onnx-sklearn': {
    env: { STORE_URL: sqlite('onnx-sklearn'), MODEL_NAME: 'spam_sklearn' },
    scrape: true,
    onnx: 'sklearn',
    what: 'default config serving a scikit-learn TF-IDF + LR pipeline (skl2onnx, onnxruntime-node); target ≥ 0.8 of service',
  },
  'onnx-sklearn-batch64': {
    env: { STORE_URL: sqlite('onnx-sklearn-batch64'), MODEL_NAME: 'spam_sklearn' },
    scrape: true,
    onnx: 'sklearn',
    body: BATCH_BODY,
    what: 'onnx-sklearn with {"texts": [...64 texts]} per request (one session.run each)',
  },
  'onnx-bert': {
    env: { STORE_URL: sqlite('onnx-bert'), MODEL_NAME: 'tiny_bert' },
    scrape: true,
    onnx: 'bert',
    what: 'default config serving the tiny test transformer (2-layer BERT, hidden 64)',
  },
  bare: { env: {}, scrape: false, what: 'bare Fastify route returning a constant' },
};
const STORE_VARIANTS = ['service', 'store-sqlite', 'store-postgres', 'batch-sqlite', 'batch-postgres'];

// Rollouts: a registry with two versions (a copy of the default model as the challenger: the same
// cost per text, so what is measured is the rollout's own overhead). The three variants send a random
// X-User-Id per request (so a 10 % canary really splits users) and are compared with rollout-single.
const ROLLOUT_REGISTRY = join(TMP, 'models');
for (const v of ['1', '2']) {
  cpSync(
    fileURLToPath(new URL('../models/msg_cls/versions/1', import.meta.url)),
    join(ROLLOUT_REGISTRY, 'msg_cls', 'versions', v),
    {
      recursive: true,
    },
  );
}
writeFileSync(join(ROLLOUT_REGISTRY, 'msg_cls', 'aliases.json'), JSON.stringify({ challenger: '2', champion: '1' }));
const rolloutEnv = (mode: string, extra: Record<string, string> = {}) => ({
  MODEL_REGISTRY: ROLLOUT_REGISTRY,
  STORE_URL: sqlite(`rollout-${mode}`),
  ...(mode === 'off' ? {} : { ROLLOUT_MODE: mode, CHALLENGER_ALIAS: 'challenger' }),
  ...extra,
});
VARIANTS['rollout-single'] = {
  env: rolloutEnv('off'),
  scrape: true,
  what: 'one version, random X-User-Id per request (the rollout baseline)',
};
VARIANTS['rollout-shadow'] = {
  env: rolloutEnv('shadow'),
  scrape: true,
  what: 'ROLLOUT_MODE=shadow: the challenger scores every text off the response path',
};
VARIANTS['rollout-canary'] = {
  env: rolloutEnv('canary', { CANARY_PERCENT: '10' }),
  scrape: true,
  what: 'ROLLOUT_MODE=canary, CANARY_PERCENT=10',
};
const ROLLOUT_VARIANTS = ['rollout-single', 'rollout-shadow', 'rollout-canary'];

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '2' },
    'cold-starts': { type: 'string', default: '5' },
    variants: {
      type: 'string',
      default:
        'bare,service,store-off,store-sqlite,store-postgres,no-metrics,no-logs,no-dashboard,batch-store-off,batch-sqlite,batch-postgres,rollout-single,rollout-shadow,rollout-canary',
    },
    'postgres-url': {
      type: 'string',
      default: process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    },
    client: { type: 'string' },
    'no-pin': { type: 'boolean', default: false },
    long: { type: 'boolean', default: false },
    'long-duration': { type: 'string', default: '60' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});
if (args.help) {
  process.stdout.write(`Usage: npm run bench -- [--duration S] [--connections N] [--rounds N] [--cold-starts N]
                         [--variants ${Object.keys(VARIANTS).join(',')}] [--client wrk|autocannon] [--no-pin] [--json]
                         [--postgres-url URL]   (a database to connect to; msgcls_bench is created next to it)
                         [--long [--long-duration S]]   (the memory runs: S seconds of single texts, of
                                                         256-text batches, then idle; default 60)

Starts the service (msg-cls serve, default model) in several configurations and a bare Fastify route
returning a constant, loads each on loopback with the same client — wrk when installed (a C client
that leaves the CPU to the servers), else autocannon — with the same body, in rounds alternating
between them, and prints requests/s, p50/p99 latency, each one's ratio to the bare route,
cold start (spawn → first 200 from /ready, median of N; also when \`node bin/msg-cls.js serve\` re-executes
itself with the V8 flags, and the bare route's, the floor), single-connection latency, and RSS after the run. With wrk, taskset and
two CPUs, servers are pinned to CPU 0 and wrk to CPU 1 (--no-pin to turn that off).
Targets (issue 8): default config ≥ 0.6 of bare Fastify's req/s at 32 connections, p99 ≤ 3 ms,
single-connection p99 ≤ 1 ms, cold start ≤ 250 ms; with --long, RSS ≤ 130 MB after S s of single texts,
after S s of 256-text batches, and idle after the load; each store variant ≥ 0.85 of store-off
(batch-* of batch-store-off) with p99 ≤ 1.2× its, and no record dropped; records/s written is read
from the service's own msgcls_store_written_records_total around each load.

Variants:
${Object.entries(VARIANTS)
  .map(([k, v]) => `  ${k.padEnd(20)} ${v.what}`)
  .join('\n')}
`);
  process.exit(0);
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DURATION = Number(args.duration);
const CONNECTIONS = Number(args.connections);
const ROUNDS = Number(args.rounds);
const COLD_STARTS = Number(args['cold-starts']);
const NAMES = (args.variants as string).split(',').filter((v) => v in VARIANTS);
if (!NAMES.includes('bare')) NAMES.unshift('bare');

// A fresh database for a PostgreSQL variant, next to the one --postgres-url names.
async function preparePostgres(name: string): Promise<string | undefined> {
  const admin = new pg.Client({ connectionString: args['postgres-url'] as string, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  } catch (err) {
    process.stderr.write(
      `${name} skipped: cannot prepare a database via ${args['postgres-url']}: ${(err as Error).message}\n`,
    );
    return undefined;
  } finally {
    await admin.end().catch(() => undefined);
  }
  const url = new URL(args['postgres-url'] as string);
  url.pathname = `/${name}`;
  return url.toString();
}
for (const [variant, database] of [
  ['store-postgres', 'msgcls_bench'],
  ['batch-postgres', 'msgcls_bench_batch'],
]) {
  if (!NAMES.includes(variant)) continue;
  const url = await preparePostgres(database);
  if (url) VARIANTS[variant].env.STORE_URL = url;
  else NAMES.splice(NAMES.indexOf(variant), 1);
}
// The ONNX variants' registries: models built by the Python venv (cached by script hash).
async function prepareOnnx(): Promise<void> {
  const kinds = new Set(NAMES.map((n) => VARIANTS[n].onnx).filter((k) => k !== undefined));
  if (kinds.size === 0) return;
  try {
    if (kinds.has('sklearn')) {
      const jsonl = join(TMP, 'spamassassin.jsonl');
      await writeFile(
        jsonl,
        loadSpamAssassin()
          .examples.map((e) => `${JSON.stringify({ text: e.text, label: e.label })}\n`)
          .join(''),
      );
      const dir = await pythonFixture('sklearn_bench.py', [jsonl]);
      const registry = await registryWith('spam_sklearn', join(dir, 'sklearn'));
      for (const n of NAMES) if (VARIANTS[n].onnx === 'sklearn') VARIANTS[n].env.MODEL_REGISTRY = registry;
    }
    if (kinds.has('bert')) {
      const dir = await pythonFixture('tiny_bert.py');
      const registry = await registryWith('tiny_bert', join(dir, 'bert3'));
      for (const n of NAMES) if (VARIANTS[n].onnx === 'bert') VARIANTS[n].env.MODEL_REGISTRY = registry;
    }
  } catch (err) {
    process.stderr.write(`onnx variants skipped: ${(err as Error).message.split('\n')[0]}\n`);
    for (const n of [...NAMES]) if (VARIANTS[n].onnx) NAMES.splice(NAMES.indexOf(n), 1);
  }
}
await prepareOnnx();
const BODY = JSON.stringify({ text: 'Buy cheap iPhone now! Limited offer, reply YES to claim your discount' });
const hasWrk = spawnSync('wrk', ['--version']).error === undefined;
const CLIENT = (args.client as string | undefined) ?? (hasWrk ? 'wrk' : 'autocannon');
if (CLIENT === 'wrk' && !hasWrk) {
  process.stderr.write('bench: wrk is not installed (apt-get install wrk), or use --client autocannon\n');
  process.exit(2);
}
// With two or more CPUs and taskset (util-linux), servers run on CPU 0 and wrk on CPU 1, so that client
// and server do not preempt each other: on a 2-core machine this cut run-to-run spread from ±15 % to a
// few percent. --no-pin turns it off.
const PIN =
  !args['no-pin'] &&
  CLIENT === 'wrk' &&
  availableParallelism() >= 2 &&
  spawnSync('taskset', ['-V']).error === undefined;

type Proc = { proc: ChildProcess; port: number; exited: Promise<number | null> };

function start(name: string, port: number, pin = PIN, launcherFlags = true): Proc {
  // The service as `npm start`, the image and the installed bin run it (V8 flags given by the launcher),
  // or with launcherFlags false as `node bin/msg-cls.js serve` (the bin re-executes itself with them);
  // the bare route with Node's defaults.
  const argv =
    name === 'bare' ? ['bench/bare-server.ts'] : [...(launcherFlags ? V8_FLAGS : []), 'bin/msg-cls.js', 'serve'];
  const [cmd, cmdArgs] = pin ? ['taskset', ['-c', '0', process.execPath, ...argv]] : [process.execPath, argv];
  const proc = spawn(cmd, cmdArgs, {
    cwd: ROOT,
    // Logs go to /dev/null, as fast as a log shipper reading stdout can be; they are still produced.
    // With the launcher's flags come its glibc settings (npm start, the image and the systemd unit set
    // them; the re-executed bin adds them itself).
    env: {
      ...(launcherFlags && name !== 'bare' ? MALLOC_ENV : {}),
      ...process.env,
      ML_PAYLOAD_SAMPLE_RATE: '0.01',
      ...VARIANTS[name].env,
      // The bin turns Node's compile cache on for the service; the bare route gets it too, so that its
      // cold start is what any Fastify service on this machine pays before it answers.
      ...(name === 'bare' ? { NODE_COMPILE_CACHE: join(tmpdir(), 'node-compile-cache') } : {}),
      PORT: String(port),
      HOST: '127.0.0.1',
      NODE_OPTIONS: '',
    },
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

/** wrk's latency figures carry units: 850.00us, 2.57ms, 1.20s. */
function wrkMs(value: string): number {
  const n = Number.parseFloat(value);
  if (value.endsWith('us')) return n / 1000;
  if (value.endsWith('ms')) return n;
  if (value.endsWith('s')) return n * 1000;
  return n;
}

// users: a random X-User-Id per request (the rollout variants: a canary splits users, not requests).
type LoadSpec = { connections?: number; duration?: number; users?: boolean };
const wrkScripts = new Map<string, string>();
async function wrkScript(body: string, users = false): Promise<string> {
  const key = `${users ? 'users' : 'plain'}\u0000${body}`;
  let path = wrkScripts.get(key);
  if (path === undefined) {
    path = join(tmpdir(), `msgcls-bench-${process.pid}-${wrkScripts.size}.lua`);
    const perRequest = users
      ? `request = function()\n  wrk.headers["X-User-Id"] = "u" .. math.random(1, 1000000)\n  return wrk.format()\nend\n`
      : '';
    await writeFile(
      path,
      `wrk.method = "POST"\nwrk.body = ${JSON.stringify(body)}\nwrk.headers["Content-Type"] = "application/json"\n${perRequest}`,
    );
    wrkScripts.set(key, path);
  }
  return path;
}

async function loadWithWrk(port: number, body: string, spec: LoadSpec): Promise<Load> {
  const script = await wrkScript(body, spec.users);
  const out = await new Promise<string>((resolve, reject) =>
    execFile(
      PIN ? 'taskset' : 'wrk',
      [
        ...(PIN ? ['-c', '1', 'wrk'] : []),
        '-t1',
        `-c${spec.connections ?? CONNECTIONS}`,
        `-d${spec.duration ?? DURATION}s`,
        '--latency',
        '-s',
        script,
        `http://127.0.0.1:${port}/predict`,
      ],
      (err, stdout) => (err ? reject(err) : resolve(stdout)),
    ),
  );
  const pick = (re: RegExp) => re.exec(out)?.[1];
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: Number(pick(/Requests\/sec:\s+([\d.]+)/)),
    p50: Math.round(wrkMs(pick(/ 50%\s+(\S+)/) ?? 'NaN') * 100) / 100,
    p99: Math.round(wrkMs(pick(/ 99%\s+(\S+)/) ?? 'NaN') * 100) / 100,
    non2xx: Number(pick(/Non-2xx or 3xx responses: (\d+)/) ?? 0),
    errors: errs ? errs.slice(1).reduce((a, x) => a + Number(x), 0) : 0,
  };
}

async function load(port: number, scrape: boolean, watch = false, body = BODY, spec: LoadSpec = {}): Promise<Load> {
  let tick = 0;
  const get = (path: string) =>
    fetch(`http://127.0.0.1:${port}${path}`).then(
      (r) => r.arrayBuffer(),
      () => undefined,
    );
  const scraper = scrape
    ? setInterval(() => {
        get('/metrics');
        // A person watching the dashboard polls it every 2 s.
        if (watch && tick++ % 2 === 0) get('/dashboard/data?since=1');
      }, 1000)
    : undefined;
  if (CLIENT === 'wrk') {
    const r = await loadWithWrk(port, body, spec);
    clearInterval(scraper);
    return r;
  }
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/predict`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    ...(spec.users
      ? {
          requests: [
            {
              setupRequest: (req: autocannon.Request) => ({
                ...req,
                headers: { 'content-type': 'application/json', 'x-user-id': `u${Math.floor(Math.random() * 1e6)}` },
              }),
            },
          ],
        }
      : {}),
    connections: spec.connections ?? CONNECTIONS,
    duration: spec.duration ?? DURATION,
  });
  clearInterval(scraper);
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

/** Spawn → first 200: from /ready for the service, from POST /predict for the bare route. */
async function coldStart(name: 'service' | 'bare', launcherFlags = true): Promise<number> {
  const port = await freePort();
  const t0 = performance.now();
  // Not pinned: start-up may use the machine's cores as it would in production.
  const p = start(name, port, false, launcherFlags);
  if (name === 'bare') await waitFor200(`http://127.0.0.1:${port}/predict`, 'POST', '{"text":"x"}');
  else await waitFor200(`http://127.0.0.1:${port}/ready`);
  const ms = performance.now() - t0;
  await stop(p);
  return ms;
}

const log = (s: string) => {
  if (!args.json) process.stderr.write(`${s}\n`);
};

log(
  `bench: ${NAMES.join(', ')}; ${ROUNDS} round(s) × ${DURATION}s each, ${CONNECTIONS} connections, client ${CLIENT}${PIN ? ' (servers pinned to CPU 0, client to CPU 1)' : ''}, node ${process.version}`,
);
const colds: number[] = [];
const coldsReexec: number[] = [];
const coldsBare: number[] = [];
// Interleaved, so that both see the same machine.
for (let i = 0; i < COLD_STARTS; i++) {
  colds.push(await coldStart('service'));
  coldsReexec.push(await coldStart('service', false));
  coldsBare.push(await coldStart('bare'));
}
log(`cold starts (ms): ${colds.map((c) => c.toFixed(0)).join(', ')}`);
log(`cold starts, re-executed by the bin (ms): ${coldsReexec.map((c) => c.toFixed(0)).join(', ')}`);
log(`cold starts, bare Fastify route (ms): ${coldsBare.map((c) => c.toFixed(0)).join(', ')}`);

const procs: Record<string, Proc> = {};
for (const name of NAMES) procs[name] = start(name, await freePort());
for (const name of NAMES) {
  const { port } = procs[name];
  if (name === 'bare') await waitFor200(`http://127.0.0.1:${port}/predict`, 'POST', BODY);
  else await waitFor200(`http://127.0.0.1:${port}/ready`);
}

// Records written and dropped, from the service's own counters, read around each load: records/s is
// what the writer committed during the load (not what it caught up with afterwards).
async function storeCounters(port: number): Promise<{ written: number; dropped: number } | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  if (!text.includes('msgcls_store_written_records_total')) return undefined;
  const sum = (re: RegExp) => [...text.matchAll(re)].reduce((a, m) => a + Number(m[1]), 0);
  return {
    written: sum(/^msgcls_store_written_records_total (\S+)$/gm),
    dropped: sum(/^msgcls_store_dropped_records_total\{[^}]*\} (\S+)$/gm),
  };
}
const runs: Record<string, Load[]> = Object.fromEntries(NAMES.map((n) => [n, []]));
const writeRates: Record<string, { records_per_s: number; dropped: number }[]> = {};
for (let round = 0; round < ROUNDS; round++) {
  for (const name of NAMES) {
    const isStore = STORE_VARIANTS.includes(name);
    const before = isStore ? await storeCounters(procs[name].port) : undefined;
    const t0 = performance.now();
    const r = await load(procs[name].port, VARIANTS[name].scrape, VARIANTS[name].watch, VARIANTS[name].body, {
      users: ROLLOUT_VARIANTS.includes(name),
    });
    const seconds = (performance.now() - t0) / 1000;
    const after = isStore ? await storeCounters(procs[name].port) : undefined;
    runs[name].push(r);
    let writes = '';
    if (before && after) {
      const w = {
        records_per_s: Math.round((after.written - before.written) / seconds),
        dropped: after.dropped - before.dropped,
      };
      writeRates[name] ??= [];
      writeRates[name].push(w);
      writes = `  store ${w.records_per_s} records/s written, ${w.dropped} dropped`;
    }
    log(
      `round ${round + 1} ${name.padEnd(20)} ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.p50} ms  p99 ${r.p99} ms  non-2xx ${r.non2xx}  errors ${r.errors}${writes}`,
    );
  }
}
const rss = await rssMb(procs.service?.proc.pid ?? (procs[NAMES[1]].proc.pid as number));
// RSS of every variant's process after its load: what each model format costs in memory.
const rssByVariant: Record<string, number> = {};
for (const name of NAMES) rssByVariant[name] = await rssMb(procs[name].proc.pid as number);
const mainName = NAMES.includes('service') ? 'service' : NAMES[1];

// One connection: the latency a lone client sees, for the service and the bare route.
const single: Record<string, Load> = {};
for (const name of ['bare', mainName]) {
  const v = VARIANTS[name];
  single[name] = await load(procs[name].port, v.scrape, v.watch, v.body, { connections: 1 });
  log(
    `1 connection ${name.padEnd(11)} ${single[name].rps.toFixed(0).padStart(6)} req/s  p50 ${single[name].p50} ms  p99 ${single[name].p99} ms`,
  );
}

// What the store variants wrote, from their own metrics: records written and dropped, and the time per
// batch write (with SQLite, the time the event loop was blocked).
type StoreStats = {
  written: number;
  dropped: number;
  failures: number;
  batches: number;
  mean_batch_ms: number;
  batch_ms_le: { p50: number; p99: number; max: number };
};
async function storeStats(port: number): Promise<StoreStats | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const value = (re: RegExp) => [...text.matchAll(re)].reduce((a, m) => a + Number(m[1]), 0);
  if (!text.includes('msgcls_store_written_records_total')) return undefined;
  const buckets = [...text.matchAll(/^msgcls_store_write_duration_seconds_bucket\{le="([^"]+)"\} (\S+)$/gm)].map(
    (m) => ({ le: m[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[1]), n: Number(m[2]) }),
  );
  const count = value(/^msgcls_store_write_duration_seconds_count (\S+)$/gm);
  const sum = value(/^msgcls_store_write_duration_seconds_sum (\S+)$/gm);
  const upper = (q: number) => (buckets.find((b) => b.n >= q * count)?.le ?? Number.NaN) * 1000;
  return {
    written: value(/^msgcls_store_written_records_total (\S+)$/gm),
    dropped: value(/^msgcls_store_dropped_records_total\{[^}]*\} (\S+)$/gm),
    failures: value(/^msgcls_store_write_failures_total (\S+)$/gm),
    batches: count,
    mean_batch_ms: count > 0 ? Math.round((sum / count) * 1e5) / 100 : 0,
    // Histogram buckets: the p50/p99/max batch write took at most this long.
    batch_ms_le: { p50: upper(0.5), p99: upper(0.99), max: upper(1) },
  };
}
const stores: Record<string, StoreStats | undefined> = {};
for (const name of NAMES.filter((n) => STORE_VARIANTS.includes(n))) stores[name] = await storeStats(procs[name].port);
for (const p of Object.values(procs)) await stop(p);

// --long: RSS of a fresh default-config service after LONG s of single texts, after LONG s of 256-text
// batches, then after LONG/2 s idle (does it come back down?), each sampled at the end of its phase.
type LongRun = { single_text_rss_mb: number; batch_rss_mb: number; idle_after_rss_mb: number; peak_rss_mb: number };
let longRun: LongRun | undefined;
if (args.long) {
  const seconds = Number(args['long-duration']);
  const p = start('service', await freePort());
  await waitFor200(`http://127.0.0.1:${p.port}/ready`);
  let peak = 0;
  const sampler = setInterval(async () => {
    peak = Math.max(peak, await rssMb(p.proc.pid as number).catch(() => 0));
  }, 500);
  const watch = VARIANTS.service.watch;
  await load(p.port, true, watch, BODY, { duration: seconds });
  const afterSingle = await rssMb(p.proc.pid as number);
  log(`long: ${seconds} s of single texts → RSS ${afterSingle} MB`);
  await load(p.port, true, watch, BATCH256_BODY, { duration: seconds });
  const afterBatch = await rssMb(p.proc.pid as number);
  log(`long: ${seconds} s of 256-text batches → RSS ${afterBatch} MB`);
  await new Promise((r) => setTimeout(r, (seconds / 2) * 1000));
  const idle = await rssMb(p.proc.pid as number);
  log(`long: ${seconds / 2} s idle → RSS ${idle} MB`);
  clearInterval(sampler);
  await stop(p);
  longRun = { single_text_rss_mb: afterSingle, batch_rss_mb: afterBatch, idle_after_rss_mb: idle, peak_rss_mb: peak };
}
for (const path of wrkScripts.values()) rmSync(path, { force: true });
rmSync(TMP, { recursive: true, force: true });
for (const name of NAMES) {
  const registry = VARIANTS[name].onnx ? VARIANTS[name].env.MODEL_REGISTRY : undefined;
  if (registry) rmSync(registry, { recursive: true, force: true });
}

const summarize = (xs: Load[]) => ({
  rps: Math.round(median(xs.map((x) => x.rps))),
  p50_ms: Math.round(median(xs.map((x) => x.p50)) * 100) / 100,
  p99_ms: Math.round(median(xs.map((x) => x.p99)) * 100) / 100,
  non2xx: xs.reduce((a, x) => a + x.non2xx, 0),
  errors: xs.reduce((a, x) => a + x.errors, 0),
});
const results = Object.fromEntries(NAMES.map((n) => [n, summarize(runs[n])]));
const ratio = (n: string) => Math.round((results[n].rps / results.bare.rps) * 100) / 100;
const report = {
  node: process.version,
  client: CLIENT,
  pinned: PIN,
  connections: CONNECTIONS,
  duration_s: DURATION,
  rounds: ROUNDS,
  results,
  ratio_to_bare: Object.fromEntries(NAMES.filter((n) => n !== 'bare').map((n) => [n, ratio(n)])),
  cold_start_ms: Math.round(median(colds)),
  rss_mb_after: rss,
  rss_mb_by_variant: rssByVariant,
  // A batch request carries 64 texts: texts/s = req/s × 64.
  texts_per_s: Object.fromEntries(
    NAMES.filter((n) => VARIANTS[n].body === BATCH_BODY).map((n) => [n, results[n].rps * BATCH_TEXTS.length]),
  ),
  onnx_ratio_to_service: {
    ...(NAMES.includes('onnx-sklearn') && NAMES.includes('service')
      ? { 'onnx-sklearn': Math.round((results['onnx-sklearn'].rps / results.service.rps) * 100) / 100 }
      : {}),
    ...(NAMES.includes('onnx-sklearn-batch64') && NAMES.includes('service-batch64')
      ? {
          'onnx-sklearn-batch64':
            Math.round((results['onnx-sklearn-batch64'].rps / results['service-batch64'].rps) * 100) / 100,
        }
      : {}),
  } as Record<string, number>,
  store_ratio_to_store_off: NAMES.includes('store-off')
    ? Object.fromEntries(
        NAMES.filter((n) => STORE_VARIANTS.includes(n) && results[isBatch256(n) ? 'batch-store-off' : 'store-off']).map(
          (n) => [
            n,
            Math.round((results[n].rps / results[isBatch256(n) ? 'batch-store-off' : 'store-off'].rps) * 100) / 100,
          ],
        ),
      )
    : {},
  store_writes: stores,
  // Records/s committed during the load (median over rounds) and records dropped (all rounds).
  store_write_rate: Object.fromEntries(
    Object.entries(writeRates).map(([n, xs]) => [
      n,
      {
        records_per_s: Math.round(median(xs.map((x) => x.records_per_s))),
        dropped: xs.reduce((a, x) => a + x.dropped, 0),
      },
    ]),
  ),
  // p99 with the store over p99 without it (target ≤ 1.2: the store must not cost the request path).
  store_p99_to_store_off: Object.fromEntries(
    NAMES.filter((n) => STORE_VARIANTS.includes(n)).flatMap((n) => {
      const off = isBatch256(n) ? 'batch-store-off' : 'store-off';
      return results[off] ? [[n, Math.round((results[n].p99_ms / results[off].p99_ms) * 100) / 100]] : [];
    }),
  ),
  // Rollouts, against one version under the same traffic: requests/s and p99 ratios.
  rollout_ratio_to_single: NAMES.includes('rollout-single')
    ? Object.fromEntries(
        NAMES.filter((n) => n === 'rollout-shadow' || n === 'rollout-canary').map((n) => [
          n,
          {
            rps: Math.round((results[n].rps / results['rollout-single'].rps) * 100) / 100,
            p99: Math.round((results[n].p99_ms / results['rollout-single'].p99_ms) * 100) / 100,
          },
        ]),
      )
    : {},
  cold_start_reexec_ms: Math.round(median(coldsReexec)),
  cold_start_bare_ms: Math.round(median(coldsBare)),
  single_connection: single,
  long: longRun,
  targets: {
    ratio: { value: ratio(mainName), target: '>= 0.6', ok: ratio(mainName) >= 0.6 },
    p99_ms: { value: results[mainName].p99_ms, target: '<= 3', ok: results[mainName].p99_ms <= 3 },
    single_connection_p99_ms: { value: single[mainName].p99, target: '<= 1', ok: single[mainName].p99 <= 1 },
    cold_start_ms: { value: Math.round(median(colds)), target: '<= 250', ok: median(colds) <= 250 },
    ...(longRun
      ? Object.fromEntries(
          (['single_text_rss_mb', 'batch_rss_mb', 'idle_after_rss_mb'] as const).map((k) => [
            `long_${k}`,
            { value: longRun[k], target: '<= 130', ok: longRun[k] <= 130 },
          ]),
        )
      : {}),
  } as Record<string, { value: number; target: string; ok: boolean }>,
};

if (args.json) {
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} else {
  const t = report.targets;
  const rows = NAMES.map((n) => {
    const r = results[n];
    const rat = n === 'bare' ? '1.00' : ratio(n).toFixed(2);
    return `${n.padEnd(20)} ${String(r.rps).padStart(7)} req/s   p50 ${String(r.p50_ms).padStart(3)} ms   p99 ${String(r.p99_ms).padStart(3)} ms   ratio ${rat}   (non-2xx ${r.non2xx}, errors ${r.errors})`;
  });
  process.stdout.write(`
POST /predict, ${CONNECTIONS} connections, ${CLIENT}, median of ${ROUNDS} round(s) of ${DURATION} s
${rows.join('\n')}

${Object.entries(report.store_ratio_to_store_off)
  .map(([n, r]) => {
    const w = stores[n];
    const rate = report.store_write_rate[n];
    const p99 = report.store_p99_to_store_off[n];
    const writes = w
      ? `${rate ? `${rate.records_per_s} records/s written during the load, ${rate.dropped} dropped (target 0); ` : ''}written ${w.written} in all, write failures ${w.failures}; ${w.batches} batch writes, mean ${w.mean_batch_ms} ms, p99 ≤ ${w.batch_ms_le.p99} ms`
      : '';
    const off = isBatch256(n) ? 'batch-store-off' : 'store-off';
    return `${n.padEnd(15)} / ${off}  ${r.toFixed(2)} req/s (target ≥ 0.85: ${r >= 0.85 ? 'ok' : 'MISSED'}), p99 ×${p99} (target ≤ 1.2: ${p99 <= 1.2 ? 'ok' : 'MISSED'})   ${writes}`;
  })
  .join('\n')}
${Object.entries(report.rollout_ratio_to_single)
  .map(
    ([n, r]) =>
      `${n.padEnd(15)} / rollout-single  req/s ${r.rps.toFixed(2)}   p99 ${r.p99.toFixed(2)}${n === 'rollout-canary' ? `   (target req/s ≥ 0.85: ${r.rps >= 0.85 ? 'ok' : 'MISSED'})` : ''}`,
  )
  .join('\n')}
targets (issue 8), in this run:
${Object.entries(t)
  .map(([k, v]) => `  ${k.padEnd(28)} ${String(v.value).padStart(7)}   (target ${v.target}: ${v.ok ? 'ok' : 'MISSED'})`)
  .join('\n')}
cold start re-executed by the bin: ${report.cold_start_reexec_ms} ms (\`node bin/msg-cls.js serve\` without the V8 flags; median of ${COLD_STARTS})
cold start of the bare Fastify route: ${report.cold_start_bare_ms} ms (the floor on this machine; median of ${COLD_STARTS})
RSS after run    ${rss} MB   (${mainName}, after ${ROUNDS} × ${DURATION} s${args.long ? '' : '; --long for the 60 s memory runs'})
RSS by variant   ${Object.entries(rssByVariant)
    .map(([n, mb]) => `${n} ${mb} MB`)
    .join(', ')}
${Object.entries(report.texts_per_s)
  .map(([n, v]) => `texts/s          ${n} ${Math.round(v)}`)
  .join('\n')}
${Object.entries(report.onnx_ratio_to_service)
  .map(([n, r]) => `${n.padEnd(20)} / native  ${r.toFixed(2)}   (target ≥ 0.8: ${r >= 0.8 ? 'ok' : 'MISSED'})`)
  .join('\n')}
`);
}
