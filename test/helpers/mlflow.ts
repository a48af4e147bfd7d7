// A real MLflow tracking server for the MLflow suites (test/mlflow): `mlflow server` from the test venv,
// on a free loopback port, with its own SQLite store and artifact directory, in its own process group
// (it leaves uvicorn children behind when only the parent is stopped). With job execution off and one
// worker it starts in ~7 s and holds ~480 MB, so each test file shares one.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pythonPath } from './python.ts';
import { freePort } from './server.ts';

export type MlflowServer = {
  url: string;
  port: number;
  dir: string;
  /** Stops the whole process group (SIGTERM, then SIGKILL). */
  stop(): Promise<void>;
  /** Starts it again on the same port, store and artifacts. */
  restart(): Promise<void>;
  output: string[];
};

export type MlflowServerOptions = {
  dir: string;
  /** Basic auth (`--app-name basic-auth`) with this admin password. */
  adminPassword?: string;
};

export async function startMlflowServer(opts: MlflowServerOptions): Promise<MlflowServer> {
  const mlflow = join(pythonPath(), '..', 'mlflow');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const output: string[] = [];
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false',
  };
  const args = [
    'server',
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--workers',
    '1',
    '--backend-store-uri',
    `sqlite:///${join(opts.dir, 'mlflow.db')}`,
    '--artifacts-destination',
    join(opts.dir, 'artifacts'),
  ];
  mkdirSync(opts.dir, { recursive: true });
  if (opts.adminPassword !== undefined) {
    const ini = join(opts.dir, 'basic_auth.ini');
    writeFileSync(
      ini,
      `[mlflow]\ndefault_permission = READ\ndatabase_uri = sqlite:///${join(opts.dir, 'basic_auth.db')}\nadmin_username = admin\nauthorization_function = mlflow.server.auth:authenticate_request_basic_auth\n`,
    );
    env.MLFLOW_AUTH_CONFIG_PATH = ini;
    env.MLFLOW_AUTH_ADMIN_PASSWORD = opts.adminPassword;
    env.MLFLOW_FLASK_SERVER_SECRET_KEY = 'test-only-secret-key';
    args.push('--app-name', 'basic-auth');
  }
  let proc: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  async function start(): Promise<void> {
    const p = spawn(mlflow, args, { env, cwd: opts.dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    proc = p;
    exited = new Promise((resolve) => p.on('exit', () => resolve()));
    const keep = (d: Buffer) => {
      output.push(d.toString('utf8'));
      if (output.length > 400) output.splice(0, 200);
    };
    p.stdout?.on('data', keep);
    p.stderr?.on('data', keep);
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      if (p.exitCode !== null) throw new Error(`mlflow server exited (${p.exitCode}):\n${output.join('')}`);
      const ok = await fetch(`${url}/health`)
        .then((r) => r.ok)
        .catch(() => false);
      if (ok) return;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`mlflow server did not answer /health within 90 s:\n${output.join('')}`);
  }

  async function stop(): Promise<void> {
    const p = proc;
    if (p?.pid === undefined || p.exitCode !== null) return;
    try {
      process.kill(-p.pid, 'SIGTERM');
    } catch {}
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    try {
      process.kill(-p.pid, 'SIGKILL'); // whatever is left of the group (uvicorn children)
    } catch {}
    await exited;
  }

  await start();
  return { url, port, dir: opts.dir, stop, restart: start, output };
}
