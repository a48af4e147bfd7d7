// msg-cls command-line entry point: `msg-cls <command> [flags]`.

import { ConfigError } from '../config.ts';
import { RegistryError } from '../registry/local.ts';
import { SERVICE_VERSION } from '../version.ts';
import { CliError, type Command, runCommand, UsageError } from './args.ts';

// Each command's module loads only when it runs (or for --help): `serve` then does not load the
// training, evaluation and doctor code (~10 ms of its start-up).
const COMMANDS: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./serve.ts')).serveCommand,
  train: async () => (await import('./train.ts')).trainCommand,
  eval: async () => (await import('./eval.ts')).evalCommand,
  predict: async () => (await import('./predict.ts')).predictCommand,
  models: async () => (await import('./models.ts')).modelsCommand,
  rollout: async () => (await import('./rollout.ts')).rolloutCommand,
  doctor: async () => (await import('./doctor.ts')).doctorCommand,
};

async function mainHelp(): Promise<string> {
  const commands = await Promise.all(Object.values(COMMANDS).map((load) => load()));
  return `msg-cls ${SERVICE_VERSION} — serve a text classifier with health checks and observability built in.

Usage: msg-cls <command> [flags]

Commands:
${commands.map((c) => `  ${c.name.padEnd(9)} ${c.summary}`).join('\n')}

Run \`msg-cls <command> --help\` for a command's flags. \`msg-cls --version\` prints the version.
`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(await mainHelp());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${SERVICE_VERSION}\n`);
    return 0;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (load === undefined) {
    process.stderr.write(`msg-cls: unknown command ${JSON.stringify(name)}; run \`msg-cls --help\` for the list\n`);
    return 2;
  }
  const cmd = await load();
  try {
    return await runCommand(cmd, rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`msg-cls ${cmd.name}: ${err.message}\nRun \`msg-cls ${cmd.name} --help\` for usage.\n`);
      return 2;
    }
    if (err instanceof ConfigError || err instanceof RegistryError || err instanceof CliError) {
      process.stderr.write(`msg-cls ${cmd.name}: ${err.message}\n`);
      return err instanceof CliError ? err.exitCode : 2;
    }
    process.stderr.write(
      `msg-cls ${cmd.name}: unexpected error — please report it:\n${(err as Error)?.stack ?? String(err)}\n`,
    );
    return 1;
  }
}
