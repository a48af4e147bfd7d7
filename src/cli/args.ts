// Small helpers shared by the CLI commands: argument parsing with --help, and uniform errors.

import { type ParseArgsConfig, parseArgs } from 'node:util';
import { loadConfig } from '../config.ts';
import { defaultRegistry } from '../registry/default.ts';
import { openRegistry } from '../registry/open.ts';
import type { ModelRef } from '../registry/types.ts';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** An error the user can fix; printed without a stack trace. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

export type Options = NonNullable<ParseArgsConfig['options']>;

export type Command = {
  name: string;
  summary: string;
  usage: string;
  /** Help text after the usage line. */
  help: string;
  options: Options;
  allowPositionals?: boolean;
  run(values: Record<string, string | boolean | string[] | undefined>, positionals: string[]): Promise<number>;
};

const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;

export function helpText(cmd: Command): string {
  return `Usage: ${cmd.usage}\n\n${cmd.summary}\n\n${cmd.help.replace(/^\n+/, '').trimEnd()}\n`;
}

export async function runCommand(cmd: Command, argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...cmd.options, ...HELP_OPTION },
      allowPositionals: cmd.allowPositionals ?? false,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message.split('\n')[0]}`);
  }
  if (parsed.values.help) {
    process.stdout.write(helpText(cmd));
    return 0;
  }
  return cmd.run(parsed.values as Record<string, string | boolean | string[] | undefined>, parsed.positionals);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function str(values: Record<string, unknown>, key: string): string | undefined {
  const v = values[key];
  return typeof v === 'string' ? v : undefined;
}

/** Model-selection flags shared by several commands; each falls back to the same env variable as `serve`. */
export const MODEL_OPTIONS = {
  registry: { type: 'string' },
  name: { type: 'string' },
  alias: { type: 'string' },
  version: { type: 'string' },
} as const satisfies Options;

export const MODEL_OPTIONS_HELP = `
  --registry DIR   model registry directory (env MODEL_REGISTRY, default ./models, else the bundled one)
  --name NAME      registered model (env MODEL_NAME, default msg_cls)
  --alias ALIAS    alias to use (env MODEL_ALIAS, default champion)
  --version N      exact version; overrides the alias (env MODEL_VERSION)

With MLFLOW_TRACKING_URI set (and MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN when the
server needs them), the model comes from that MLflow Model Registry, downloaded into MODEL_CACHE_DIR,
as for \`msg-cls serve\` — unless --registry is given.`;

export function modelSelection(values: Record<string, unknown>, env = process.env) {
  const pick = (flag: string, envName: string, fallback: string | undefined) => {
    const v = str(values, flag) ?? env[envName];
    return v !== undefined && v.trim() !== '' ? v.trim() : fallback;
  };
  const version =
    str(values, 'version') ?? (str(values, 'alias') ? undefined : pick('version', 'MODEL_VERSION', undefined));
  return {
    registry: pick('registry', 'MODEL_REGISTRY', undefined) ?? defaultRegistry(),
    name: pick('name', 'MODEL_NAME', 'msg_cls') as string,
    alias: pick('alias', 'MODEL_ALIAS', 'champion') as string,
    version,
  };
}

/**
 * The selected model's files, from the registry \`serve\` would use: MLflow when MLFLOW_TRACKING_URI is
 * set (and no --registry flag), else the local directory. When MLflow is unreachable, the registry
 * falls back to the version cached for the alias, as the service does; the note on stderr says so.
 */
export async function resolveSelectedModel(values: Record<string, unknown>, env = process.env): Promise<ModelRef> {
  const sel = modelSelection(values, env);
  const config = loadConfig({ ...env, MODEL_REGISTRY: sel.registry });
  const local = str(values, 'registry') !== undefined;
  const registry = await openRegistry({
    registry: sel.registry,
    mlflow: local ? undefined : config.mlflow,
    modelCacheDir: config.modelCacheDir,
  });
  const ref = await registry.resolve(sel.name, { alias: sel.alias, version: sel.version });
  if (ref.origin === 'cache') {
    process.stderr.write(
      `msg-cls: ${sel.name} version ${ref.version} taken from the model cache (${ref.originReason ?? 'registry unreachable'})\n`,
    );
  }
  return ref;
}
