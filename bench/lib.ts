// Shared pieces of the overload and memory benches: start the real service as `npm start` runs it,
// wait for it, read its RSS, stop it.

import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** The API key bench/hooks.ts sends and bench/hooks-server.ts accepts (a bench value, not a secret). */
export const API_KEY = 'bench-key-0123456789abcdef';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

export type Service = { proc: ChildProcess; port: number; url: string; exited: Promise<number | null> };

import { V8_FLAGS } from '../bin/runtime.js';
import { freePort } from '../test/helpers/server.ts';

export { freePort };

/** `msg-cls serve` with the same V8 flags as `npm start`; logs go to /dev/null (still produced). */
export async function startService(env: Record<string, string>): Promise<Service> {
  const port = await freePort();
  const proc = spawn(process.execPath, [...V8_FLAGS, 'bin/msg-cls.js', 'serve'], {
    cwd: ROOT,
    env: { ...process.env, STORE_URL: 'off', ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = performance.now() + 30_000;
  for (;;) {
    try {
      const res = await fetch(`${url}/ready`);
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) throw new Error('the service did not become ready within 30 s');
    await new Promise((r) => setTimeout(r, 20));
  }
  return { proc, port, url, exited };
}

export async function stopService(s: Service): Promise<void> {
  s.proc.kill('SIGTERM');
  await s.exited;
}

export async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
  return Math.round((kb / 1024) * 10) / 10;
}

/** Samples the RSS every `everyMs` until stopped; returns the peak. */
export function watchRss(pid: number, everyMs = 250): { stop(): Promise<number> } {
  let peak = 0;
  const timer = setInterval(() => {
    rssMb(pid).then(
      (mb) => {
        peak = Math.max(peak, mb);
      },
      () => undefined,
    );
  }, everyMs);
  return {
    async stop() {
      clearInterval(timer);
      return Math.max(peak, await rssMb(pid).catch(() => 0));
    },
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
