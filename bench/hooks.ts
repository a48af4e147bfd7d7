// `npm run bench:hooks`: what each overload/access component costs per request on the hot path.
// Loads a bare Fastify route, then the same route with one component added (bench/hooks-server.ts),
// in alternating rounds with the same client, and prints requests/s and the cost in µs per request
// (1/rps − 1/rps_bare). Also prices the libraries not used, to back the choice made:
// @fastify/under-pressure against src/http/limits.ts, @fastify/helmet against src/http/headers.ts.
//
//   node bench/hooks.ts [--duration S] [--rounds N] [--variants a,b] [--json]

import { type ChildProcess, spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { API_KEY, freePort, ROOT } from './lib.ts';

const ALL = ['bare', 'shed', 'under-pressure', 'headers', 'helmet', 'api-key', 'rate-limit', 'ours'];
const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
    variants: { type: 'string', default: ALL.join(',') },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});
if (args.help) {
  process.stdout.write(`Usage: npm run bench:hooks -- [--duration S] [--rounds N] [--connections N] [--variants ${ALL.join(',')}] [--json]

  shed            src/http/limits.ts load shedding (default limits)
  under-pressure  @fastify/under-pressure with the same event-loop and heap limits
  headers         src/http/headers.ts security headers
  helmet          @fastify/helmet with its defaults
  api-key         API_KEYS check (one key, sent as X-API-Key)
  rate-limit      @fastify/rate-limit, limit never reached
  ours            shed + headers + api-key + rate-limit together
`);
  process.exit(0);
}
const names = ['bare', ...(args.variants as string).split(',').filter((v) => ALL.includes(v) && v !== 'bare')];
const BODY = JSON.stringify({ text: 'Buy cheap iPhone now! Limited offer, reply YES to claim your discount' });

async function start(variant: string): Promise<{ proc: ChildProcess; port: number }> {
  const port = await freePort();
  const proc = spawn(process.execPath, ['bench/hooks-server.ts'], {
    cwd: ROOT,
    env: { ...process.env, HOOKS_VARIANT: variant, PORT: String(port) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  for (;;) {
    try {
      await fetch(`http://127.0.0.1:${port}/`).then((r) => r.arrayBuffer());
      return { proc, port };
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

const rps: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
for (let round = 0; round < Number(args.rounds); round++) {
  for (const name of names) {
    const { proc, port } = await start(name);
    const r = await autocannon({
      url: `http://127.0.0.1:${port}/predict`,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
      body: BODY,
      connections: Number(args.connections),
      duration: Number(args.duration),
    });
    if (r.non2xx > 0) process.stderr.write(`${name}: ${r.non2xx} non-2xx responses\n`);
    rps[name].push(r.requests.average);
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const bare = median(rps.bare);
const rows = names.map((name) => {
  const m = median(rps[name]);
  return {
    variant: name,
    rps: Math.round(m),
    ratio: Math.round((m / bare) * 100) / 100,
    us_per_request: Math.round((1e6 / m - 1e6 / bare) * 100) / 100,
  };
});
if (args.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
else {
  process.stdout.write('| variant | requests/s | ratio to bare | cost µs/request |\n|---|---|---|---|\n');
  for (const r of rows) process.stdout.write(`| ${r.variant} | ${r.rps} | ${r.ratio} | ${r.us_per_request} |\n`);
}
