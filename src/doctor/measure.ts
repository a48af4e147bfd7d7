// Measures what the configured model really costs: starts `msg-cls serve` with the deployment's
// environment (Dockerfile ENV + fly.toml [env], not the doctor's own shell) on a loopback port, in a
// temporary directory, times start-up to "ready", loads /predict for a moment and records the peak
// resident memory (VmHWM on Linux; sampled `ps` elsewhere). Nothing is written outside that directory:
// a SQLite store goes to a temporary file, a PostgreSQL store is not written to (measured store off, and
// said so), traces are not exported.

import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIG_VARS, parseStoreUrl } from '../config.ts';

const CLI = fileURLToPath(new URL('../../bin/msg-cls.js', import.meta.url));

export type Footprint = {
  model: string;
  startup_ms: number;
  peak_rss_mb: number;
  requests: number;
  load_ms: number;
};

export type MeasureOptions = {
  /** The environment the service gets in the deployment (Dockerfile ENV, then fly.toml [env]). */
  deploymentEnv: Record<string, string>;
  /** The model registry on this machine (the deployment's, found under DIR or given with --registry). */
  registry: string;
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

export type MeasureNote = { message: string; fix: string };

/**
 * The environment the measured service runs with: the deployment's, on top of the doctor's process
 * environment stripped of every msg-cls and OpenTelemetry setting (a STORE_URL in the doctor's shell must
 * not decide where the load test writes), with what cannot be reproduced safely here replaced.
 */
export function measurementEnv(
  deploymentEnv: Record<string, string>,
  registry: string,
  workDir: string,
  shellEnv: Record<string, string | undefined> = process.env,
): { env: Record<string, string>; notes: MeasureNote[] } {
  const appVars = new Set(CONFIG_VARS.map((v) => v.name));
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(shellEnv)) {
    if (v === undefined || appVars.has(k) || k.startsWith('OTEL_') || k === 'NODE_OPTIONS') continue;
    if (k === 'MSG_CLS_V8_FLAGS_MISSING') continue;
    env[k] = v;
  }
  const notes: MeasureNote[] = [];
  for (const [k, v] of Object.entries(deploymentEnv)) {
    if (k.startsWith('OTEL_EXPORTER_OTLP')) continue;
    env[k] = v;
  }
  if (Object.keys(deploymentEnv).some((k) => k.startsWith('OTEL_EXPORTER_OTLP'))) {
    notes.push({
      message: 'measured without exporting traces (the load test must not send spans to the real collector)',
      fix: 'tracing adds a few MB; keep some headroom over the measured peak',
    });
  }
  const store = parseStoreUrl(
    deploymentEnv.STORE_URL ?? CONFIG_VARS.find((v) => v.name === 'STORE_URL')?.default ?? '',
    [],
  );
  if (store.kind === 'sqlite') env.STORE_URL = `sqlite:${join(workDir, 'measure.db')}`;
  if (store.kind === 'postgres') {
    env.STORE_URL = 'off';
    notes.push({
      message: "measured with STORE_URL=off: the load test does not write into the deployment's PostgreSQL",
      fix: 'the PostgreSQL store adds a connection pool (a few MB); keep some headroom over the measured peak',
    });
  }
  // Ports are the deployment's, not this machine's: an ephemeral main port, and METRICS_PORT=0 (/metrics on
  // that port) so that the run never binds a fixed port another process (or doctor) may hold.
  Object.assign(env, {
    MODEL_REGISTRY: registry,
    PORT: '0',
    METRICS_PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    WATCHDOG_MODEL_LOAD_TIMEOUT_MS: '0',
  });
  return { env, notes };
}

export async function measureFootprint(opts: MeasureOptions): Promise<{ footprint: Footprint; notes: MeasureNote[] }> {
  const workDir = mkdtempSync(join(tmpdir(), 'msg-cls-doctor-'));
  try {
    const { env, notes } = measurementEnv(opts.deploymentEnv, opts.registry, workDir);
    return { footprint: await measure(env, workDir, opts), notes };
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

async function measure(env: Record<string, string>, cwd: string, opts: MeasureOptions): Promise<Footprint> {
  const concurrency = opts.concurrency ?? 32;
  const loadMs = opts.loadMs ?? 2000;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const t0 = performance.now();
  // bin/msg-cls.js applies the service's V8 flags itself when the deployment's NODE_OPTIONS lacks them.
  const child = spawn(process.execPath, [CLI, 'serve'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
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
    // Cleared however the load ends: a failed request used to leave it running, and the doctor never exited.
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
    try {
      await Promise.all(Array.from({ length: concurrency }, client));
    } finally {
      clearInterval(sampler);
    }
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
