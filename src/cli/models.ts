import { loadConfig } from '../config.ts';
import { addModelDir } from '../registry/add.ts';
import { openRegistry } from '../registry/open.ts';
import type { Registry } from '../registry/types.ts';
import { CliError, type Command, printJson, str, UsageError } from './args.ts';

export const modelsCommand: Command = {
  name: 'models',
  summary: 'List registered models, versions and aliases (local or MLflow); point an alias; add a model directory.',
  usage:
    'msg-cls models [NAME] | msg-cls models alias NAME ALIAS VERSION | msg-cls models alias NAME ALIAS --delete | msg-cls models add NAME DIR [--alias ALIAS]',
  help: `
  msg-cls models                         every model with its versions and aliases (JSON)
  msg-cls models NAME                    one model
  msg-cls models alias NAME ALIAS N      point ALIAS (e.g. champion) at version N
  msg-cls models alias NAME ALIAS --delete   remove ALIAS
  msg-cls models add NAME DIR [--alias A]    register DIR as a new version of NAME in the local registry:
                                         our own format (model.json), an MLflow model directory (MLmodel),
                                         or ONNX + tokenizer files; it must load first, and the SHA-256 of
                                         every file is recorded (checksums.json) unless model.json has them

  --registry DIR   local model registry directory (env MODEL_REGISTRY, default ./models)
  --delete         with \`alias\`: delete the alias instead of setting it
  --alias A        with \`add\`: point alias A at the new version

With MLFLOW_TRACKING_URI set (and MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN when the
server needs them), listing and aliases act on that MLflow Model Registry instead, unless --registry
is given. \`add\` always writes to the local registry.

A running service that follows the alias swaps to the new version within MODEL_POLL_SECONDS (default
30 s), or at once on POST /admin/reload.`,
  options: { registry: { type: 'string' }, delete: { type: 'boolean' }, alias: { type: 'string' } },
  allowPositionals: true,
  async run(values, positionals) {
    const dirFlag = str(values, 'registry');
    const config = loadConfig(dirFlag === undefined ? process.env : { ...process.env, MODEL_REGISTRY: dirFlag });
    const localOnly = { registry: config.registry, mlflow: undefined, modelCacheDir: config.modelCacheDir };

    if (positionals[0] === 'add') {
      const [, name, dir, extra] = positionals;
      if (name === undefined || dir === undefined) throw new UsageError('`models add` needs NAME and DIR');
      if (extra !== undefined || values.delete)
        throw new UsageError('`models add NAME DIR [--alias A]` takes nothing else');
      printJson(await addModelDir(config.registry, name, dir, str(values, 'alias')));
      return 0;
    }
    if (str(values, 'alias') !== undefined) throw new UsageError('--alias only goes with `models add`');
    const registry: Registry = await openRegistry(dirFlag === undefined ? config : localOnly);

    if (positionals[0] === 'alias') {
      const [, name, alias, version, extra] = positionals;
      if (name === undefined || alias === undefined) throw new UsageError('`models alias` needs NAME and ALIAS');
      if (extra !== undefined) throw new UsageError(`unexpected argument: ${extra}`);
      if (values.delete) {
        if (version !== undefined) throw new UsageError('give either VERSION or --delete, not both');
        if (!(await registry.deleteAlias(name, alias))) {
          throw new CliError(`model ${name} has no alias ${alias}; nothing deleted (see \`msg-cls models ${name}\`)`);
        }
        printJson({ name, alias, deleted: true });
        return 0;
      }
      if (version === undefined) throw new UsageError('`models alias NAME ALIAS` needs a VERSION (or --delete)');
      await registry.setAlias(name, alias, version);
      printJson({ name, alias, version });
      return 0;
    }
    if (values.delete) throw new UsageError('--delete only goes with `models alias`');
    if (positionals.length > 1) throw new UsageError(`unexpected arguments: ${positionals.slice(1).join(' ')}`);
    if (positionals[0] !== undefined) {
      const [info] = await registry.list(positionals[0]);
      if (info === undefined || info.versions.length === 0) {
        throw new CliError(
          `model ${positionals[0]} is not in registry ${registry.location}; run \`msg-cls models\` to list models`,
        );
      }
      printJson(info);
      return 0;
    }
    printJson({ registry: registry.location, kind: registry.kind, models: await registry.list() });
    return 0;
  },
};
