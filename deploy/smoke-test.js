#!/usr/bin/env node
// Smoke test of a running msg-cls: waits for GET /ready, then checks POST /predict classifies a text and
// GET /alive answers. Exit 0 when all pass, 1 otherwise, printing what failed.
//   node deploy/smoke-test.js [BASE_URL]        e.g. https://msg-cls.fly.dev
// Without BASE_URL it targets the Machine under test in a Fly.io machine check (FLY_TEST_MACHINE_IP),
// else 127.0.0.1; the port is PORT (default 8000). SMOKE_TIMEOUT_MS (default 60000) bounds the wait.
// Plain JavaScript with no imports: it runs from the image (fly.toml machine_checks), from CI after a
// deploy, and from a laptop.
const port = process.env.PORT?.trim() || '8000';
const ip = process.env.FLY_TEST_MACHINE_IP?.trim();
const base = (process.argv[2] ?? (ip ? `http://[${ip}]:${port}` : `http://127.0.0.1:${port}`)).replace(/\/+$/, '');
const deadline = Date.now() + Number(process.env.SMOKE_TIMEOUT_MS ?? 60_000);

async function call(method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, text };
}

function fail(msg) {
  console.error(`smoke test FAILED against ${base}: ${msg}`);
  process.exit(1);
}

let ready;
for (;;) {
  try {
    ready = await call('GET', '/ready');
    if (ready.status === 200) break;
  } catch (err) {
    ready = { status: 0, text: String(err?.cause?.code ?? err?.message ?? err) };
  }
  if (Date.now() > deadline) fail(`GET /ready never answered 200 (last: ${ready.status} ${ready.text.slice(0, 200)})`);
  await new Promise((r) => setTimeout(r, 1000));
}

const spam = await call('POST', '/predict', { text: 'WINNER! Claim your FREE prize now, reply YES to this text' });
if (spam.status !== 200) fail(`POST /predict answered ${spam.status}: ${spam.text.slice(0, 300)}`);
let body;
try {
  body = JSON.parse(spam.text);
} catch {
  fail(`POST /predict did not answer JSON: ${spam.text.slice(0, 300)}`);
}
if (typeof body.label !== 'string' || !(body.proba >= 0 && body.proba <= 1)) {
  fail(`POST /predict answered without label/proba: ${spam.text.slice(0, 300)}`);
}
const alive = await call('GET', '/alive');
if (alive.status !== 200) fail(`GET /alive answered ${alive.status}`);
console.log(
  `smoke test ok against ${base}: /ready 200, /predict → ${body.label} (${body.proba.toFixed(3)}), /alive 200`,
);
