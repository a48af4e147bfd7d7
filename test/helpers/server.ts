// Test helpers: a real service on an ephemeral loopback port, in this process or as a child process.

import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config.ts';
import { createObservability, type RunningServer, startServer } from '../../src/server.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const DEFAULT_REGISTRY = fileURLToPath(new URL('../../models', import.meta.url));
export const CLI = fileURLToPath(new URL('../../bin/msg-cls.js', import.meta.url));

/** A TCP port free on loopback right now (for servers that must be told their port up front). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** Collects log lines so tests can assert on them. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) if (line) this.lines.push(line);
    cb();
  }
  records(): Record<string, unknown>[] {
    return this.lines.map((l) => JSON.parse(l));
  }
}

export type TestServer = RunningServer & { logs: LogCapture; close(): Promise<void> };

// Tests run without a store unless they ask for one (STORE_URL=sqlite:<temp file> or postgres://…), so
// that they never write into the repository's ./data folder.
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const fullEnv = { PORT: '0', HOST: '127.0.0.1', MODEL_REGISTRY: DEFAULT_REGISTRY, STORE_URL: 'off', ...env };
  const config = loadConfig(fullEnv);
  const logs = new LogCapture();
  const server = await startServer(config, await createObservability(config, { env: fullEnv, destination: logs }));
  return Object.assign(server, {
    logs,
    async close() {
      await server.stop('test finished');
    },
  });
}

export type Child = {
  proc: ChildProcess;
  stdout: string[];
  stderr: string[];
  /** Resolves with the exit code (or signal) when the process ends. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first stdout JSON line matching `pred`. */
  waitForLog(pred: (rec: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
};

/** Runs `msg-cls <args>` as a real child process. */
export function spawnCli(args: string[], env: Record<string, string | undefined> = {}): Child {
  const proc = spawn(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, MODEL_REGISTRY: DEFAULT_REGISTRY, STORE_URL: 'off', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters: { pred: (r: Record<string, unknown>) => boolean; resolve: (r: Record<string, unknown>) => void }[] =
    [];
  let buf = '';
  proc.stdout.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      stdout.push(line);
      try {
        const rec = JSON.parse(line) as Record<string, unknown>;
        for (const w of [...waiters]) {
          if (w.pred(rec)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(rec);
          }
        }
      } catch {
        // not a JSON line
      }
      nl = buf.indexOf('\n');
    }
  });
  proc.stderr.on('data', (d: Buffer) => stderr.push(d.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    proc,
    stdout,
    stderr,
    exited,
    waitForLog(pred, timeoutMs = 10_000) {
      for (const line of stdout) {
        try {
          const rec = JSON.parse(line);
          if (pred(rec)) return Promise.resolve(rec);
        } catch {}
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(`timed out waiting for a log line; stdout:\n${stdout.join('\n')}\nstderr:\n${stderr.join('')}`),
            ),
          timeoutMs,
        );
        waiters.push({
          pred,
          resolve: (r) => {
            clearTimeout(timer);
            resolve(r);
          },
        });
        exited.then(() => {
          clearTimeout(timer);
          reject(
            new Error(`process exited before the log line; stdout:\n${stdout.join('\n')}\nstderr:\n${stderr.join('')}`),
          );
        });
      });
    },
  };
}

/** Runs `msg-cls <args>` to its end (stdin closed, or fed `stdin`); stdout is parsed as JSON when it is JSON. */
export async function runCli(args: string[], env: Record<string, string> = {}, stdin?: string) {
  const child = spawnCli(args, env);
  child.proc.stdin?.end(stdin);
  const { code } = await child.exited;
  const stdout = child.stdout.join('\n');
  // biome-ignore lint/suspicious/noExplicitAny: tests assert on arbitrary JSON shapes
  let json: any;
  try {
    json = JSON.parse(stdout);
  } catch {
    json = undefined;
  }
  return { code, stdout, stderr: child.stderr.join(''), json };
}

/** Starts `msg-cls serve` on an ephemeral port and waits until it is ready. */
export async function spawnServer(env: Record<string, string> = {}): Promise<Child & { url: string }> {
  const child = spawnCli(['serve'], { PORT: '0', HOST: '127.0.0.1', ...env });
  const listening = await child.waitForLog((r) => r.msg === 'listening');
  await child.waitForLog((r) => typeof r.msg === 'string' && r.msg.startsWith('model loaded'));
  return Object.assign(child, { url: `http://127.0.0.1:${listening.port}` });
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  // biome-ignore lint/suspicious/noExplicitAny: tests assert on arbitrary JSON shapes
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}

/** The JSON body of a fetch Response, untyped for assertions. */
// biome-ignore lint/suspicious/noExplicitAny: tests assert on arbitrary JSON shapes
export async function json(res: Response): Promise<any> {
  return res.json();
}
