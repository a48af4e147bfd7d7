// msg-cls rollout status | promote | rollback — the end of a rollout, done in the registry (through the
// Registry interface, so the same commands work on the local registry and on MLflow, whichever the
// service's environment configures). A running service follows: its alias polling
// (MODEL_POLL_SECONDS) or POST /admin/reload picks the change up.

import { loadConfig } from '../config.ts';
import { openRegistry } from '../registry/open.ts';
import type { Registry } from '../registry/types.ts';
import { CliError, type Command, printJson, str, UsageError } from './args.ts';

const HELP = `
  msg-cls rollout status     the versions the champion and challenger aliases point at; with --url,
                             the running service's verdict (GET /monitoring/rollout) too
  msg-cls rollout promote    point the champion alias at the challenger's version, remove the
                             challenger alias; with --url, only when the verdict says promote
                             (or --force)
  msg-cls rollout rollback   remove the challenger alias: the champion answers everyone again

  --name NAME              registered model (env MODEL_NAME, default msg_cls)
  --champion-alias A       (env MODEL_ALIAS, default champion)
  --challenger-alias B     (env CHALLENGER_ALIAS, default challenger)
  --url URL                the running service, e.g. http://localhost:8000 (its ADMIN_TOKEN from
                           the environment is sent when set)
  --force                  promote even when the verdict does not say promote
  --registry DIR           local model registry (env MODEL_REGISTRY, default ./models); without it,
                           the MLflow Model Registry when MLFLOW_TRACKING_URI is set

The service follows the aliases at its next poll (MODEL_POLL_SECONDS) or at once on POST /admin/reload.`;

async function fetchVerdict(url: string): Promise<Record<string, unknown>> {
  const token = process.env.ADMIN_TOKEN;
  let res: Response;
  try {
    res = await fetch(new URL('/monitoring/rollout', url), {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new CliError(`cannot reach ${url}: ${(err as Error).message}; check --url and that the service runs`);
  }
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) {
    throw new CliError(`${url}/monitoring/rollout answered ${res.status}: ${String(body.detail ?? body.error ?? '')}`);
  }
  return body;
}

async function aliasVersion(registry: Registry, name: string, alias: string): Promise<string | null> {
  try {
    return (await registry.lookup(name, { alias })).version;
  } catch (err) {
    if ((err as { code?: string }).code === 'not_found') return null;
    throw err;
  }
}

export const rolloutCommand: Command = {
  name: 'rollout',
  summary: 'Show, promote or roll back a rollout (champion and challenger aliases).',
  usage: 'msg-cls rollout status|promote|rollback [--name N] [--url URL] [--force]',
  help: HELP,
  options: {
    name: { type: 'string' },
    'champion-alias': { type: 'string' },
    'challenger-alias': { type: 'string' },
    url: { type: 'string' },
    force: { type: 'boolean' },
    registry: { type: 'string' },
  },
  allowPositionals: true,
  async run(values, positionals) {
    const action = positionals[0];
    if (action !== 'status' && action !== 'promote' && action !== 'rollback') {
      throw new UsageError('say what to do: `msg-cls rollout status`, `rollout promote` or `rollout rollback`');
    }
    if (positionals.length > 1) throw new UsageError(`unexpected arguments: ${positionals.slice(1).join(' ')}`);
    // The service's registry: MLflow when MLFLOW_TRACKING_URI is set (unless --registry DIR), else local.
    const dirFlag = str(values, 'registry');
    const config = loadConfig(dirFlag === undefined ? process.env : { ...process.env, MODEL_REGISTRY: dirFlag });
    const registry = await openRegistry(
      dirFlag === undefined
        ? config
        : { registry: config.registry, mlflow: undefined, modelCacheDir: config.modelCacheDir },
    );
    const name = str(values, 'name') ?? config.modelName;
    const champion = str(values, 'champion-alias') ?? config.modelAlias;
    const challenger = str(values, 'challenger-alias') ?? config.rollout.challengerAlias ?? 'challenger';
    const url = str(values, 'url');
    const versions = {
      champion: await aliasVersion(registry, name, champion),
      challenger: await aliasVersion(registry, name, challenger),
    };
    const aliases = { champion, challenger };

    if (action === 'status') {
      const service = url ? await fetchVerdict(url) : undefined;
      printJson({ name, registry: registry.location, aliases, versions, ...(service ? { service } : {}) });
      return 0;
    }
    if (versions.challenger === null) {
      throw new CliError(
        `model ${name} has no alias "${challenger}": there is no rollout to ${action} (\`msg-cls rollout status\` shows the aliases)`,
      );
    }
    if (action === 'rollback') {
      await registry.deleteAlias(name, challenger);
      printJson({
        name,
        action,
        removed: { alias: challenger, version: versions.challenger },
        champion: versions.champion,
      });
      return 0;
    }
    if (url && !values.force) {
      const verdict = (await fetchVerdict(url)).verdict as { decision?: string; reasons?: string[] } | undefined;
      if (verdict?.decision !== 'promote') {
        throw new CliError(
          `the service's verdict is "${verdict?.decision}", not "promote": ${(verdict?.reasons ?? []).join('; ')}. Wait for more data, or pass --force to promote anyway`,
        );
      }
    }
    await registry.setAlias(name, champion, versions.challenger);
    await registry.deleteAlias(name, challenger);
    printJson({
      name,
      action,
      champion: { alias: champion, version: versions.challenger, previous: versions.champion },
      removed: { alias: challenger },
    });
    return 0;
  },
};
