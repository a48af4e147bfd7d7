#!/usr/bin/env node
// Build-time step of the Dockerfile (not shipped behaviour): runs `msg-cls serve` once, calls every
// route, and stops it, so that Node's compile cache (NODE_COMPILE_CACHE) holds the compiled code of every
// module the service loads. The runtime image then starts from that cache with a read-only root
// filesystem. It is also a smoke test: if the service cannot start or answer inside the image, the build
// fails here. Usage: node deploy/warm-compile-cache.js
import { spawn } from 'node:child_process';

const child = spawn(process.execPath, ['bin/msg-cls.js', 'serve'], {
  // STORE_URL=off: the build stage has nowhere to keep a store (the store's modules load all the same).
  env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', STORE_URL: 'off' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
const fail = (msg) => {
  console.error(`warm-compile-cache: ${msg}`);
  child.kill('SIGKILL');
  process.exit(1);
};
const timer = setTimeout(() => fail('the service was not ready within 60 s'), 60_000);
let stopping = false;
exited.then(({ code }) => stopping || fail(`the service exited early with code ${code}`));

const port = await new Promise((resolve) => {
  let buf = '';
  let listening = 0;
  child.stdout.on('data', (d) => {
    buf += d;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let rec;
      try {
        rec = JSON.parse(line);
      } catch {
        continue;
      }
      if (rec.msg === 'listening') listening = rec.port;
      if (typeof rec.msg === 'string' && rec.msg.startsWith('model loaded')) resolve(listening);
    }
  });
});
clearTimeout(timer);

const base = `http://127.0.0.1:${port}`;
const calls = [
  ['POST', '/predict', { text: 'Win a FREE cruise now, reply YES' }, 200],
  ['POST', '/predict', { texts: ['see you at lunch', 'cheap meds online'] }, 200],
  ['POST', '/predict', { text: '' }, 400],
  ['GET', '/alive', undefined, 200],
  ['GET', '/ready', undefined, 200],
  ['GET', '/health', undefined, 200],
  ['GET', '/version', undefined, 200],
  ['GET', '/openapi.json', undefined, 200],
  ['GET', '/docs', undefined, 200],
  ['GET', '/metrics', undefined, undefined],
  ['GET', '/no-such-route', undefined, 404],
];
for (const [method, path, body, want] of calls) {
  const res = await fetch(base + path, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  await res.arrayBuffer();
  if (want !== undefined && res.status !== want) fail(`${method} ${path} answered ${res.status}, expected ${want}`);
}
stopping = true;
child.kill('SIGTERM');
const { code } = await exited;
if (code !== 0) {
  console.error(`warm-compile-cache: the service exited with ${code} on SIGTERM`);
  process.exit(1);
}
console.error(
  `warm-compile-cache: ok (${calls.length} calls; cache in ${process.env.NODE_COMPILE_CACHE ?? 'the default directory'})`,
);
