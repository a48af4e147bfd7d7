import { deleteAlias, describeModel, listModels, setAlias } from '../registry/local.ts';
import { CliError, type Command, printJson, str, UsageError } from './args.ts';

export const modelsCommand: Command = {
  name: 'models',
  summary: 'List registered models, versions and aliases; point an alias at a version.',
  usage: 'msg-cls models [NAME] | msg-cls models alias NAME ALIAS VERSION | msg-cls models alias NAME ALIAS --delete',
  help: `
  msg-cls models                         every model with its versions and aliases (JSON)
  msg-cls models NAME                    one model
  msg-cls models alias NAME ALIAS N      point ALIAS (e.g. champion) at version N
  msg-cls models alias NAME ALIAS --delete   remove ALIAS

  --registry DIR   model registry directory (env MODEL_REGISTRY, default ./models)
  --delete         with \`alias\`: delete the alias instead of setting it

A running service that follows the alias swaps to the new version within MODEL_POLL_SECONDS (default
30 s), or at once on POST /admin/reload.`,
  options: { registry: { type: 'string' }, delete: { type: 'boolean' } },
  allowPositionals: true,
  async run(values, positionals) {
    const registry = str(values, 'registry') ?? process.env.MODEL_REGISTRY ?? './models';
    if (positionals[0] === 'alias') {
      const [, name, alias, version] = positionals;
      if (name === undefined || alias === undefined) throw new UsageError('`models alias` needs NAME and ALIAS');
      if (values.delete) {
        if (version !== undefined) throw new UsageError('give either VERSION or --delete, not both');
        if (!(await deleteAlias(registry, name, alias))) {
          throw new CliError(`model ${name} has no alias ${alias}; nothing deleted (see \`msg-cls models ${name}\`)`);
        }
        printJson({ name, alias, deleted: true });
        return 0;
      }
      if (version === undefined) throw new UsageError('`models alias NAME ALIAS` needs a VERSION (or --delete)');
      await setAlias(registry, name, alias, version);
      printJson({ name, alias, version });
      return 0;
    }
    if (values.delete) throw new UsageError('--delete only goes with `models alias`');
    if (positionals.length > 1) throw new UsageError(`unexpected arguments: ${positionals.slice(1).join(' ')}`);
    if (positionals[0] !== undefined) {
      const info = await describeModel(registry, positionals[0]);
      if (info.versions.length === 0) {
        throw new CliError(
          `model ${positionals[0]} is not in registry ${registry}; run \`msg-cls models\` to list models`,
        );
      }
      printJson(info);
      return 0;
    }
    printJson({ registry, models: await listModels(registry) });
    return 0;
  },
};
