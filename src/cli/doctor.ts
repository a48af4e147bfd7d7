import { stat } from 'node:fs/promises';
import { CliError, type Command, printJson, str, UsageError } from './args.ts';

export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'Check a deployment (fly.toml, Dockerfile, .dockerignore, app config, model memory) and say how to fix it.',
  usage:
    'msg-cls doctor [DIR] [--json] [--strict] [--no-measure | --footprint-mb MB] [--registry DIR] [--secrets NAMES]',
  help: `
  DIR                directory with fly.toml, Dockerfile and .dockerignore (default: the current one)
  --json             print the report as JSON
  --strict           exit non-zero on warnings too, not only on errors
  --no-measure       do not start the configured model to measure its start-up time and memory
  --footprint-mb MB  use this peak RSS (e.g. from \`npm run bench\`) instead of measuring
  --registry DIR     model registry to check and measure, when MODEL_REGISTRY in the deployment
                     does not point inside DIR
  --secrets NAMES    comma-separated names of the secrets set on the app (\`fly secrets list\`; names
                     only, never values): the files do not show them, and ADMIN_TOKEN changes what
                     Fly's metrics scraper gets

Checks, each with its fix: internal_port / EXPOSE different from the port the app listens on (502 Bad
Gateway); health-check or [metrics] paths and ports where the app serves nothing, and /metrics that
Fly's scraper cannot read without ADMIN_TOKEN (use METRICS_PORT); VM memory below the measured footprint
of the configured model (OOM kill); auto-stop with no Machine left running (cold starts, "no machines
available"); secrets in [env] or the image; the container running as root; a missing or harmful
.dockerignore; kill_signal/kill_timeout that cut the graceful shutdown short; restart policy "never";
invalid app configuration; a model the registry does not have.

Exit status: 0 no errors, 1 errors found (or warnings with --strict), 2 usage error.`,
  options: {
    json: { type: 'boolean' },
    strict: { type: 'boolean' },
    'no-measure': { type: 'boolean' },
    'footprint-mb': { type: 'string' },
    registry: { type: 'string' },
    secrets: { type: 'string' },
  },
  allowPositionals: true,
  async run(values, positionals) {
    if (positionals.length > 1) throw new UsageError(`give at most one DIR (got ${positionals.length})`);
    const fp = str(values, 'footprint-mb');
    const footprintMb = fp === undefined ? undefined : Number(fp);
    if (footprintMb !== undefined && !(footprintMb > 0))
      throw new UsageError(`--footprint-mb ${fp} is not a positive number of MB`);
    if (footprintMb !== undefined && values['no-measure'])
      throw new UsageError('give either --no-measure or --footprint-mb, not both');
    const dir = positionals[0] ?? '.';
    const isDir = await stat(dir).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!isDir)
      throw new CliError(`${dir} is not a directory: give the directory that holds fly.toml and the Dockerfile`, 2);
    // Loaded only when used: `serve` must not pay for the doctor's code at start-up.
    const { formatReport, runDoctor } = await import('../doctor/index.ts');
    const report = await runDoctor(dir, {
      measure: !values['no-measure'],
      footprintMb,
      registry: str(values, 'registry'),
      secrets: str(values, 'secrets')
        ?.split(',')
        .map((n) => n.trim())
        .filter((n) => n !== ''),
    });
    if (values.json) printJson(report);
    else process.stdout.write(formatReport(report));
    const failing = report.summary.errors + (values.strict ? report.summary.warnings : 0);
    return failing > 0 ? 1 : 0;
  },
};
