// Measures what the configured model really costs: starts `msg-cls serve` with the deployment's
// model settings on a loopback port, times start-up to "ready", loads /predict for a moment and
// records the peak resident memory (VmHWM on Linux; sampled `ps` elsewhere).

import { execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../bin/msg-cls.js', import.meta.url));

export type Footprint = {
  model: string;
  startup_ms: number;
  peak_rss_mb: number;
  requests: number;
  load_ms: number;
};

export type MeasureOptions = {
  env: Record<string, string>;
  cwd: string;
  /** Concurrent clients during the load phase. */
  concurrency?: number;
  loadMs?: number;
  timeoutMs?: number;
};

async function rssMb(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? /VmRSS:\s+(\d+)/.exec(status)?.[1]);
    if (Number.isFinite(kb)) return kb / 1024;
  } catch {
    // not Linux: ask ps
  }
  return new Promise((resolve) => {
    execFile('ps', ['-o', 'rss=', '-p', String(pid)], (err, out) => {
      const kb = Number(out.trim());
      resolve(err || !Number.isFinite(kb) || kb === 0 ? undefined : kb / 1024);
    });
  });
}

export async function measureFootprint(opts: MeasureOptions): Promise<Footprint> {
  const concurrency = opts.concurrency ?? 32;
  const loadMs = opts.loadMs ?? 2000;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const t0 = performance.now();
  // The V8 flags of bin/msg-cls.js's shebang and `npm start` (the image sets the same in NODE_OPTIONS).
  const child = spawn(process.execPath, ['--max-semi-space-size=2', CLI, 'serve'], {
    cwd: opts.cwd,
    env: {
      ...process.env,
      ...opts.env,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      WATCHDOG_MODEL_LOAD_TIMEOUT_MS: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  child.stderr.on('data', (d: Buffer) => stderr.push(d.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const ready = await new Promise<{ port: number; model: string }>((resolve, reject) => {
      let buf = '';
      let port = 0;
      const timer = setTimeout(
        () => reject(new Error(`the service did not get ready within ${timeoutMs} ms`)),
        timeoutMs,
      );
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString('utf8');
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          let rec: Record<string, unknown>;
          try {
            rec = JSON.parse(line);
          } catch {
            continue;
          }
          if (rec.msg === 'listening') port = Number(rec.port);
          if (typeof rec.msg === 'string' && rec.msg.startsWith('model loaded')) {
            clearTimeout(timer);
            const m = rec.model as { name?: string; version?: string; alias?: string | null } | undefined;
            resolve({ port, model: `${m?.name}@${m?.version}${m?.alias ? ` (alias ${m.alias})` : ''}` });
          }
        }
      });
      exited.then((code) => {
        clearTimeout(timer);
        reject(
          new Error(
            `the service exited (code ${code}) before it was ready: ${stderr.join('').trim().split('\n').slice(0, 3).join(' ')}`,
          ),
        );
      });
    });
    const startupMs = performance.now() - t0;

    const url = `http://127.0.0.1:${ready.port}/predict`;
    const body = JSON.stringify({
      text: 'Congratulations! You have won a FREE cruise, reply YES to claim your prize now',
    });
    const until = performance.now() + loadMs;
    let requests = 0;
    let peak = (await rssMb(child.pid as number)) ?? 0;
    const sampler = setInterval(async () => {
      peak = Math.max(peak, (await rssMb(child.pid as number)) ?? 0);
    }, 50);
    const client = async () => {
      while (performance.now() < until) {
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`POST /predict answered ${res.status} during the measurement`);
        requests++;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, client));
    clearInterval(sampler);
    peak = Math.max(peak, (await rssMb(child.pid as number)) ?? 0);
    return {
      model: ready.model,
      startup_ms: Math.round(startupMs),
      peak_rss_mb: Math.round(peak * 10) / 10,
      requests,
      load_ms: loadMs,
    };
  } finally {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}
