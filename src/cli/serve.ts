import { spawn } from 'node:child_process';
import { getHeapStatistics } from 'node:v8';
import { addedV8Flags, givenV8Flags, missingV8Flags } from '../../bin/runtime.js';
import { CONFIG_VARS, loadConfig } from '../config.ts';
import type { Logs } from '../monitoring/logging.ts';
import { ModelUnloadableError, startEventLoopWatchdog, WATCHDOG_EXIT_CODE } from '../monitoring/watchdog.ts';
import { RegistryError } from '../registry/local.ts';
import { createObservability, ModelLoadError, startServer } from '../server.ts';
import { StoreConfigError } from '../store/types.ts';
import { CliError, type Command, str } from './args.ts';

const FLAG_TO_ENV: Record<string, string> = {
  port: 'PORT',
  host: 'HOST',
  registry: 'MODEL_REGISTRY',
  name: 'MODEL_NAME',
  alias: 'MODEL_ALIAS',
  version: 'MODEL_VERSION',
};

export const serveCommand: Command = {
  name: 'serve',
  summary:
    'Run the HTTP service: POST /predict, POST /feedback, /monitoring/quality, /monitoring/drift, /alive, /ready, /health, /version, /docs.',
  usage: 'msg-cls serve [--port N] [--host H] [--registry DIR] [--name NAME] [--alias ALIAS | --version N]',
  help: `
Flags override the environment variables of the same meaning:
  --port N         (PORT)
  --host H         (HOST)
  --registry DIR   (MODEL_REGISTRY)
  --name NAME      (MODEL_NAME)
  --alias ALIAS    (MODEL_ALIAS)
  --version N      (MODEL_VERSION)

Environment:
${CONFIG_VARS.map((v) => `  ${v.name.padEnd(22)} ${v.description}${v.default ? ` Default: ${v.default}.` : ''}`).join('\n')}

Stops gracefully on SIGTERM or SIGINT: /ready turns 503, in-flight requests finish, exit 0.
Exits with 70 (after logging why) when the watchdog finds the event loop blocked beyond
WATCHDOG_EVENT_LOOP_LIMIT_MS or the model still unloadable after WATCHDOG_MODEL_LOAD_TIMEOUT_MS, so that
a supervisor (Fly.io restart policy, Docker restart, systemd, Kubernetes) restarts the service.`,
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    registry: { type: 'string' },
    name: { type: 'string' },
    alias: { type: 'string' },
    version: { type: 'string' },
  },
  async run(values) {
    const env: Record<string, string | undefined> = { ...process.env };
    for (const [flag, envName] of Object.entries(FLAG_TO_ENV)) {
      const v = str(values, flag);
      if (v !== undefined) env[envName] = v;
    }
    if (str(values, 'alias') !== undefined && str(values, 'version') === undefined) env.MODEL_VERSION = undefined;
    const config = loadConfig(env);
    const obs = await createObservability(config);
    const { logs } = obs;
    logMemorySettings(logs.service);

    const fatal = (kind: string) => (err: unknown) => {
      logs.exception.fatal({ err }, `${kind}; exiting so the supervisor restarts the service`);
      logs.flush().then(() => process.exit(1));
    };
    process.on('uncaughtException', fatal('uncaught exception'));
    process.on('unhandledRejection', fatal('unhandled promise rejection'));

    // A stop signal while starting (e.g. a platform giving up on a slow start): nothing is in flight yet.
    const stopWhileStarting = (signal: NodeJS.Signals) => {
      logs.service.info({ signal }, 'stopped before the service was ready');
      logs.flush().then(() => exitEvenIfStuck(0));
    };
    // One listener per signal for the whole life of the process, whose action changes once the service
    // is ready. Swapping listeners (off, then on) closes libuv's signal handle in between, and a signal
    // that arrived while start-up kept the loop busy — queued on that handle, not yet dispatched — is
    // dropped with it: the service then started as if never asked to stop (seen 7 times in 30 starts).
    let onStopSignal: (signal: NodeJS.Signals) => void = stopWhileStarting;
    const stopSignal = (signal: NodeJS.Signals) => onStopSignal(signal);
    process.on('SIGTERM', stopSignal);
    process.on('SIGINT', stopSignal);
    // Every start-up step is bounded: one that hangs instead of failing (a store that never answers, a
    // model file on a stuck mount) ends in a logged exit 70 that the supervisor restarts.
    const startupDeadline =
      config.watchdogStartupTimeoutMs > 0
        ? setTimeout(() => {
            logs.exception.fatal(
              {
                reason: 'startup_timeout',
                timeout_ms: config.watchdogStartupTimeoutMs,
                uptime_ms: Math.round(process.uptime() * 1000),
                exit_code: WATCHDOG_EXIT_CODE,
              },
              `not ready ${config.watchdogStartupTimeoutMs} ms after start (WATCHDOG_STARTUP_TIMEOUT_MS); exiting so the supervisor restarts the service`,
            );
            logs.flush().then(() => exitEvenIfStuck(WATCHDOG_EXIT_CODE));
          }, config.watchdogStartupTimeoutMs)
        : undefined;
    let server: Awaited<ReturnType<typeof startServer>>;
    try {
      server = await startServer(config, obs);
      clearTimeout(startupDeadline);
    } catch (err) {
      clearTimeout(startupDeadline);
      const explained = explainStartupError(err, config.host, config.port);
      if (err instanceof ModelLoadError && err.cause instanceof ModelUnloadableError) {
        const gaveUp = err.cause;
        logs.exception.fatal(
          { err: gaveUp.cause, reason: 'model_unloadable', attempts: gaveUp.attempts, exit_code: WATCHDOG_EXIT_CODE },
          `${gaveUp.message}; exiting so the supervisor restarts the service`,
        );
        await logs.flush();
        process.stderr.write(`msg-cls serve: ${(explained as Error).message}\n`);
        return WATCHDOG_EXIT_CODE;
      }
      await logs.flush();
      throw explained;
    }

    // Started once ready: booting its worker thread during start-up cost ~150 ms of a 400 ms cold-start
    // budget; start-up itself is bounded by WATCHDOG_MODEL_LOAD_TIMEOUT_MS and the platform's checks.
    const watchdog = startEventLoopWatchdog(
      { limitMs: config.watchdogEventLoopLimitMs, logLevel: config.logLevel },
      logs,
    );
    return new Promise<number>((resolve) => {
      let firstSignalAt = 0;
      const onSignal = (signal: NodeJS.Signals) => {
        if (server.state.phase === 'stopping') {
          // Ctrl-C under `npm start` arrives twice: from the terminal and forwarded by npm. Only a signal
          // sent on purpose later (an impatient second Ctrl-C) means "now".
          if (performance.now() - firstSignalAt < 1000) return;
          logs.service.warn({ signal }, 'second stop signal: exiting now');
          logs.flush().then(() => process.exit(1));
          return;
        }
        firstSignalAt = performance.now();
        server.stop(`received ${signal}`).then(async ({ drained }) => {
          await watchdog.stop();
          logs.service.info({ drained }, 'stopped');
          logs.flush().then(() => resolve(0));
        }, fatal('error while stopping'));
      };
      onStopSignal = onSignal;
    });
  },
};

/** Turns the errors a user can cause at start-up into messages that say what to do. */
function explainStartupError(err: unknown, host: string, port: number): unknown {
  if (err instanceof RegistryError) return err;
  if (err instanceof StoreConfigError) return new CliError(err.message, 2);
  const code = (err as NodeJS.ErrnoException).code;
  const where = `${host}:${port}`;
  if (code === 'EADDRINUSE') {
    return new CliError(
      `cannot listen on ${where}: the port is in use (EADDRINUSE); stop the other process or set PORT to a free port`,
      2,
    );
  }
  if (code === 'EACCES') {
    return new CliError(
      `cannot listen on ${where}: permission denied (EACCES); use a port above 1023 or grant the capability`,
      2,
    );
  }
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
    return new CliError(
      `cannot listen on ${where}: HOST is not an address of this machine (${code}); use 0.0.0.0 or 127.0.0.1`,
      2,
    );
  }
  if (!(err instanceof ModelLoadError)) return err;
  return new CliError(
    `cannot load the model: ${(err as Error).message ?? String(err)}\nFix or re-register the artifact (\`msg-cls train\`), or point MODEL_ALIAS/MODEL_VERSION at a good version (\`msg-cls models\`).`,
    1,
  );
}

/** Says which V8 memory settings are in effect, and warns when one is missing (RSS would double under load). */
function logMemorySettings(logger: Logs['service']): void {
  const settings = {
    // As given: the image's heap share stands in for the fixed heap limit.
    v8_flags: givenV8Flags(),
    added_by_reexec: addedV8Flags() || undefined,
    node_options: process.env.NODE_OPTIONS || undefined,
    heap_limit_mb: Math.round(getHeapStatistics().heap_size_limit / 2 ** 20),
  };
  const missing = missingV8Flags();
  if (missing.length === 0) logger.info(settings, 'V8 memory settings');
  else
    logger.warn(
      { ...settings, missing },
      `running without ${missing.join(' ')}: RSS under load may double; start with \`msg-cls serve\` (bin/msg-cls.js adds it) or add it to NODE_OPTIONS`,
    );
}

/**
 * process.exit(code), even when a start-up step is stuck in the kernel: exiting joins libuv's thread
 * pool, and a pool thread stuck in a system call (a FIFO, a hung network mount) makes the exit wait
 * forever (measured: process.exit and process.reallyExit both hang). When a filesystem request is seen
 * pending, the process signals itself at once; Node 26 no longer lists a pending promise read among its
 * active resources, so an exit is also backed by a small detached `sh` that sends the same signal one
 * second later if the process is still there. A signal's default action is carried out by the kernel —
 * SIGTERM for a requested stop, SIGKILL for a failure; supervisors see the stop or the failure either way.
 * Used only on the start-up paths (stop before ready, start-up timeout), never on a normal stop.
 */
async function exitEvenIfStuck(code: number): Promise<void> {
  const signal = code === 0 ? 'SIGTERM' : 'SIGKILL';
  const fsPending = () => process.getActiveResourcesInfo().some((r) => r.startsWith('FSReq'));
  for (let waited = 0; fsPending() && waited < 500; waited += 10) await new Promise((r) => setTimeout(r, 10));
  // Without listeners Node restores the signal's default action, so the signal ends the process.
  process.removeAllListeners(signal);
  if (fsPending()) process.kill(process.pid, signal);
  try {
    spawn('/bin/sh', ['-c', `sleep 1; kill -${signal.slice(3)} ${process.pid} 2>/dev/null`], {
      detached: true,
      stdio: 'ignore',
    }).unref();
  } catch {
    // No shell: the in-process check above is all there is.
  }
  process.exit(code);
}
