// msg-cls command-line entry point: `msg-cls <command> [flags]`.

import { ConfigError } from '../config.ts';
import { RegistryError } from '../registry/local.ts';
import { SERVICE_VERSION } from '../version.ts';
import { CliError, type Command, runCommand, UsageError } from './args.ts';
import { doctorCommand } from './doctor.ts';
import { evalCommand } from './eval.ts';
import { modelsCommand } from './models.ts';
import { predictCommand } from './predict.ts';
import { rolloutCommand } from './rollout.ts';
import { serveCommand } from './serve.ts';
import { trainCommand } from './train.ts';

const COMMANDS: Command[] = [
  serveCommand,
  trainCommand,
  evalCommand,
  predictCommand,
  modelsCommand,
  rolloutCommand,
  doctorCommand,
];

function mainHelp(): string {
  return `msg-cls ${SERVICE_VERSION} — serve a text classifier with health checks and observability built in.

Usage: msg-cls <command> [flags]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(9)} ${c.summary}`).join('\n')}

Run \`msg-cls <command> --help\` for a command's flags. \`msg-cls --version\` prints the version.
`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainHelp());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${SERVICE_VERSION}\n`);
    return 0;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (cmd === undefined) {
    process.stderr.write(`msg-cls: unknown command ${JSON.stringify(name)}; run \`msg-cls --help\` for the list\n`);
    return 2;
  }
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
