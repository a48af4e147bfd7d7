import { CONFIG_VARS, loadConfig } from '../config.ts';
import { createLogger, flushLogs } from '../monitoring/logger.ts';
import { ModelUnloadableError, startEventLoopWatchdog, WATCHDOG_EXIT_CODE } from '../monitoring/watchdog.ts';
import { startServer } from '../server.ts';
import { type Command, str } from './args.ts';

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
  summary: 'Run the HTTP service: POST /predict, /alive, /ready, /health, /version, /docs.',
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
    const logger = createLogger(config.logLevel);

    const fatal = (kind: string) => (err: unknown) => {
      logger.fatal({ err, log_type: 'exception' }, `${kind}; exiting so the supervisor restarts the service`);
      flushLogs();
      process.exit(1);
    };
    process.on('uncaughtException', fatal('uncaught exception'));
    process.on('unhandledRejection', fatal('unhandled promise rejection'));

    const watchdog = startEventLoopWatchdog({ limitMs: config.watchdogEventLoopLimitMs, logLevel: config.logLevel }, logger);
    let server: Awaited<ReturnType<typeof startServer>>;
    try {
      server = await startServer(config, logger);
    } catch (err) {
      await watchdog.stop();
      if (!(err instanceof ModelUnloadableError)) throw err;
      logger.fatal(
        { err, log_type: 'watchdog', reason: 'model_unloadable', attempts: err.attempts, exit_code: WATCHDOG_EXIT_CODE },
        `${err.message}; exiting so the supervisor restarts the service (fix the artifact, or point MODEL_ALIAS/MODEL_VERSION at a good version)`,
      );
      flushLogs();
      return WATCHDOG_EXIT_CODE;
    }

    return new Promise<number>((resolve) => {
      const onSignal = (signal: NodeJS.Signals) => {
        if (server.state.phase === 'stopping') {
          logger.warn({ signal }, 'second stop signal: exiting now');
          flushLogs();
          process.exit(1);
        }
        server.stop(`received ${signal}`).then(async ({ drained }) => {
          await watchdog.stop();
          logger.info({ drained }, 'stopped');
          flushLogs();
          resolve(0);
        }, fatal('error while stopping'));
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
    });
  },
};
