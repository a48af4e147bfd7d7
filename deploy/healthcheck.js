#!/usr/bin/env node
// Container health check: GET /alive (or the path given as the first argument) on the port the service
// listens on; exit 0 on 200, 1 otherwise. Used by the image's HEALTHCHECK, the compose file and the ECS
// task definition — the slim image has no curl or wget. Plain JavaScript with no imports, so it starts in
// a few tens of milliseconds and never touches the disk.
const port = process.env.PORT?.trim() || '8000';
const bind = process.env.HOST?.trim();
const host = !bind || bind === '0.0.0.0' || bind === '::' ? '127.0.0.1' : bind;
const path = process.argv[2] ?? '/alive';
try {
  const res = await fetch(`http://${host.includes(':') ? `[${host}]` : host}:${port}${path}`, {
    signal: AbortSignal.timeout(Number(process.env.HEALTHCHECK_TIMEOUT_MS ?? 4000)),
  });
  process.exitCode = res.status === 200 ? 0 : 1;
  if (res.status !== 200) console.error(`health check: GET ${path} answered ${res.status}`);
} catch (err) {
  console.error(`health check: GET ${path} failed: ${err?.cause?.code ?? err?.cause?.message ?? err?.message ?? err}`);
  process.exitCode = 1;
}
