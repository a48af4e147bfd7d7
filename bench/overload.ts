// `npm run bench:overload`: does the service shed load gracefully? Measures its capacity (closed-loop
// requests/s), then offers a fixed rate of 2× and 5× that (autocannon's overallRate, many connections)
// and reports, for each: the p50/p99 latency of the admitted requests (200), the share refused with
// 503 overloaded, errors and timeouts, the latency of /alive probes sent meanwhile from a separate
// process, and the peak RSS. `--variants shed,no-shed` compares with shedding turned off.
//
//   node bench/overload.ts [--duration S] [--multiples 2,5] [--connections N] [--variants shed,no-shed]
//                          [--set NAME=VALUE ...] [--json]

import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { percentile, round, type Service, startService, stopService, watchRss } from './lib.ts';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    multiples: { type: 'string', default: '2,5' },
    connections: { type: 'string', default: '400' },
    variants: { type: 'string', default: 'shed,no-shed' },
    set: { type: 'string', multiple: true, default: [] },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});
if (args.help) {
  process.stdout.write(`Usage: npm run bench:overload -- [--duration S] [--multiples 2,5] [--connections N]
                                  [--variants shed,no-shed] [--set NAME=VALUE ...] [--json]

Starts msg-cls serve (STORE_URL=off, default limits), measures its capacity with 32 connections
(closed loop), then offers each multiple of it as a fixed request rate over --connections connections
and reports admitted p50/p99, the reject ratio (503 overloaded), /alive probe latency and peak RSS.
"no-shed" runs the same with every OVERLOAD_* limit at 0. The load generator shares the machine:
compare variants within one run, not absolute numbers across machines. --set passes a variable to
the service in every variant (e.g. --set OVERLOAD_MAX_EVENT_LOOP_DELAY_MS=50).
`);
  process.exit(0);
}

const DURATION = Number(args.duration);
const MULTIPLES = (args.multiples as string).split(',').map(Number);
const CONNECTIONS = Number(args.connections);
const BODY = JSON.stringify({ text: 'Buy cheap iPhone now! Limited offer, reply YES to claim your discount' });

const EXTRA = Object.fromEntries(
  (args.set as string[]).map((kv) => [kv.split('=', 1)[0], kv.slice(kv.indexOf('=') + 1)]),
);
const VARIANTS: Record<string, Record<string, string>> = {
  shed: {},
  'no-shed': { OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0', OVERLOAD_MAX_HEAP_MB: '0', OVERLOAD_MAX_IN_FLIGHT: '0' },
};

type Phase = {
  variant: string;
  offered_rps: number;
  achieved_rps: number;
  admitted_rps: number;
  admitted_p50_ms: number;
  admitted_p99_ms: number;
  reject_ratio: number;
  errors: number;
  timeouts: number;
  probe_p99_ms: number;
  probe_max_ms: number;
  probe_failures: number;
  peak_rss_mb: number;
  /** msgcls_requests_shed_total by limit, during this phase. */
  shed_by: string;
};

async function shedCounts(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^msgcls_requests_shed_total\{limit="(\w+)"\} (\d+)/gm)) out[m[1]] = Number(m[2]);
  return out;
}

async function capacity(service: Service): Promise<number> {
  const r = await autocannon({
    url: `${service.url}/predict`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: BODY,
    connections: 32,
    duration: DURATION,
  });
  return r['2xx'] / DURATION;
}

// /alive every 100 ms from its own process, so that the load generator's busy event loop does not
// delay the probe's own timing.
const PROBE = `
const url = process.argv[1], until = Date.now() + Number(process.argv[2]);
const times = []; let failures = 0;
while (Date.now() < until) {
  const t0 = performance.now();
  try { const r = await fetch(url, { signal: AbortSignal.timeout(2000) }); await r.arrayBuffer(); if (r.status !== 200) failures++; }
  catch { failures++; }
  times.push(performance.now() - t0);
  await new Promise((r) => setTimeout(r, 100));
}
process.stdout.write(JSON.stringify({ times, failures }));
`;

function probe(url: string, ms: number): Promise<{ times: number[]; failures: number }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', PROBE, `${url}/alive`, String(ms)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  return new Promise((resolve) => child.on('exit', () => resolve(JSON.parse(out || '{"times":[],"failures":0}'))));
}

async function overload(variant: string, service: Service, rate: number): Promise<Phase> {
  const latencies: number[] = [];
  let rejected = 0;
  let total = 0;
  const shedBefore = await shedCounts(service.url);
  const rss = watchRss(service.proc.pid as number);
  const probing = probe(service.url, DURATION * 1000);
  let instance: autocannon.Instance | undefined;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(
      {
        url: `${service.url}/predict`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: BODY,
        connections: CONNECTIONS,
        overallRate: Math.round(rate),
        duration: DURATION,
        timeout: 10,
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
  });
  instance?.on('response', (_client, status, _bytes, ms) => {
    total++;
    if (status === 200) latencies.push(ms);
    else if (status === 503) rejected++;
  });
  const result = await done;
  const probes = await probing;
  const peak = await rss.stop();
  const shedAfter = await shedCounts(service.url);
  const shedBy = Object.entries(shedAfter)
    .map(([k, v]) => [k, v - (shedBefore[k] ?? 0)] as const)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k}:${v}`)
    .join(' ');
  latencies.sort((a, b) => a - b);
  const probeTimes = probes.times.sort((a, b) => a - b);
  return {
    variant,
    offered_rps: Math.round(rate),
    achieved_rps: Math.round(total / DURATION),
    admitted_rps: Math.round(latencies.length / DURATION),
    admitted_p50_ms: round(percentile(latencies, 50)),
    admitted_p99_ms: round(percentile(latencies, 99)),
    reject_ratio: total > 0 ? round(rejected / total, 3) : 0,
    errors: result.errors,
    timeouts: result.timeouts,
    probe_p99_ms: round(percentile(probeTimes, 99)),
    probe_max_ms: round(probeTimes.at(-1) ?? Number.NaN),
    probe_failures: probes.failures,
    peak_rss_mb: peak,
    shed_by: shedBy || '-',
  };
}

const phases: Phase[] = [];
let measuredCapacity = 0;
for (const variant of (args.variants as string).split(',').filter((v) => v in VARIANTS)) {
  const service = await startService({ ...EXTRA, ...VARIANTS[variant] });
  try {
    if (measuredCapacity === 0) {
      measuredCapacity = await capacity(service);
      process.stderr.write(`capacity: ${Math.round(measuredCapacity)} requests/s (closed loop, 32 connections)\n`);
    }
    for (const m of MULTIPLES) {
      process.stderr.write(`${variant}: ${m}× capacity for ${DURATION} s…\n`);
      phases.push({ ...(await overload(variant, service, m * measuredCapacity)), variant: `${variant} ${m}×` });
      await new Promise((r) => setTimeout(r, 1000));
    }
  } finally {
    await stopService(service);
  }
}

if (args.json) {
  process.stdout.write(`${JSON.stringify({ capacity_rps: Math.round(measuredCapacity), phases }, null, 2)}\n`);
} else {
  const cols: (keyof Phase)[] = [
    'variant',
    'offered_rps',
    'achieved_rps',
    'admitted_rps',
    'admitted_p50_ms',
    'admitted_p99_ms',
    'reject_ratio',
    'errors',
    'timeouts',
    'probe_p99_ms',
    'probe_max_ms',
    'probe_failures',
    'peak_rss_mb',
    'shed_by',
  ];
  process.stdout.write(`capacity ${Math.round(measuredCapacity)} requests/s\n`);
  process.stdout.write(`| ${cols.join(' | ')} |\n|${cols.map(() => '---').join('|')}|\n`);
  for (const p of phases) process.stdout.write(`| ${cols.map((c) => p[c]).join(' | ')} |\n`);
}
