// The MLflow Model Registry behind the Registry interface (chosen when MLFLOW_TRACKING_URI is set;
// imported dynamically, so the local registry pays nothing for it). REST calls, checked against
// MLflow 3.17.2:
//   lookup  GET  registered-models/alias?name=N&alias=A   → model_version.version
//               (unknown model: 404 RESOURCE_DOES_NOT_EXIST; unknown alias: 400 INVALID_PARAMETER_VALUE)
//           GET  model-versions/get?name=N&version=V        (an exact MODEL_VERSION)
//   fetch   GET  model-versions/get-download-uri?name=N&version=V → artifact_uri, one of
//               mlflow-artifacts:/<path>  → GET /api/2.0/mlflow-artifacts/artifacts?path=<path> lists
//                                            (recursively for is_dir), GET …/artifacts/<path>/<file> downloads
//               file:///dir or /dir       → copied from a shared volume
//   list    GET  registered-models/search (page_token), registered-models/get, model-versions/search
//               (its results carry no aliases: they come from the registered model)
//   alias   POST registered-models/alias {name, alias, version}; DELETE registered-models/alias {name, alias}
//               (DELETE of an unknown alias answers 200, so deleteAlias looks it up first)
// Every downloaded version goes through the model cache (./model-cache.ts). When the server is
// unreachable at start, `resolve` serves the version last resolved for the alias from the cache,
// with origin 'cache' and the reason; the hot-swap poll (`lookup`) notices when the server is back.

import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RegistryError, validateAlias, validateModelName } from './local.ts';
import { createMlflowClient, type MlflowClient, type MlflowClientOptions, MlflowError } from './mlflow-client.ts';
import {
  type CachedFile,
  CacheError,
  type ModelCache,
  openModelCache,
  safeRelativePath,
  writeHashed,
} from './model-cache.ts';
import type { ModelInfo, ModelRef, ModelSelector, Registry, VersionInfo } from './types.ts';

export type MlflowRegistryOptions = MlflowClientOptions & {
  cacheDir: string;
  /** Told about cache use and re-downloads (the service's log). */
  log?: (level: 'info' | 'warn', fields: Record<string, unknown>, msg: string) => void;
};

type MV = {
  name: string;
  version: string;
  source?: string;
  creation_timestamp?: number;
  run_id?: string;
  tags?: { key: string; value: string }[];
};
type RM = { name: string; aliases?: { alias: string; version: string }[]; latest_versions?: MV[] };

/** Cached versions kept per model besides those an alias record points at. */
const CACHE_KEEP_VERSIONS = 3;

export type MlflowRegistry = Registry & { readonly client: MlflowClient; readonly cache: ModelCache };

export function createMlflowRegistry(opts: MlflowRegistryOptions): MlflowRegistry {
  const client = createMlflowClient(opts);
  const where = `MLflow tracking server ${client.location}`;
  const cache = openModelCache(opts.cacheDir, client.location);
  const log = opts.log ?? (() => {});

  /** MlflowError → RegistryError with what to do; `unavailable` is what the cache may stand in for. */
  function explain(err: unknown, name: string): never {
    if (err instanceof RegistryError) throw err;
    if (err instanceof MlflowError) {
      if (err.kind === 'unreachable') throw new RegistryError('unavailable', err.message);
      if (err.kind === 'auth') throw new RegistryError('auth', err.message);
      if (err.errorCode === 'RESOURCE_DOES_NOT_EXIST' && /registered model/i.test(err.message)) {
        throw new RegistryError(
          'not_found',
          `model ${JSON.stringify(name)} is not registered on ${where}: set MODEL_NAME to a registered model (\`msg-cls models\` lists them), or register it (mlflow.<flavor>.log_model(..., registered_model_name="${name}") or \`msg-cls train --registry mlflow --name ${name}\`)`,
        );
      }
      throw new RegistryError(err.kind === 'not_found' ? 'not_found' : 'invalid', `${where}: ${err.message}`);
    }
    throw err;
  }

  async function aliasesOf(name: string): Promise<Record<string, string>> {
    const { registered_model: rm } = await client.call<{ registered_model: RM }>('GET', 'registered-models/get', {
      name,
    });
    return Object.fromEntries((rm.aliases ?? []).map((a) => [a.alias, a.version]));
  }

  async function lookup(name: string, selector: ModelSelector) {
    validateModelName(name);
    try {
      if (selector.version !== undefined) {
        await client.call('GET', 'model-versions/get', { name, version: selector.version }).catch(async (err) => {
          if (!(err instanceof MlflowError) || err.errorCode !== 'RESOURCE_DOES_NOT_EXIST') throw err;
          await aliasesOf(name); // an unknown model says so, rather than "no such version"
          throw new RegistryError(
            'not_found',
            `model ${name} has no version ${selector.version} on ${where}: \`msg-cls models ${name}\` lists its versions (for the service: set MODEL_VERSION to one of them, or unset it to follow MODEL_ALIAS)`,
          );
        });
        return { version: selector.version, alias: undefined };
      }
      const alias = selector.alias ?? 'champion';
      try {
        const res = await client.call<{ model_version: MV }>('GET', 'registered-models/alias', { name, alias });
        return { version: String(res.model_version.version), alias };
      } catch (err) {
        if (!(err instanceof MlflowError) || err.errorCode !== 'INVALID_PARAMETER_VALUE') throw err;
        const known = Object.entries(await aliasesOf(name)).map(([a, v]) => `${a} → ${v}`);
        throw new RegistryError(
          'not_found',
          `model ${name} has no alias ${JSON.stringify(alias)} on ${where} (aliases: ${known.join(', ') || 'none'}): set MODEL_ALIAS to one of them, or point it with \`msg-cls models alias ${name} ${alias} <version>\` (or MlflowClient().set_registered_model_alias)`,
        );
      }
    } catch (err) {
      explain(err, name);
    }
  }

  /** Lists every file under an mlflow-artifacts path (directories recursively). */
  async function listArtifacts(path: string, prefix = ''): Promise<{ path: string; size: number | undefined }[]> {
    const res = await client.raw('GET', `api/2.0/mlflow-artifacts/artifacts?path=${encodeURIComponent(path)}`);
    if (!res.ok) {
      await res.body?.cancel();
      throw new MlflowError('other', `listing artifacts at ${path} answered ${res.status}`, { status: res.status });
    }
    const { files = [] } = (await res.json()) as { files?: { path: string; is_dir: boolean; file_size?: number }[] };
    const out: { path: string; size: number | undefined }[] = [];
    for (const f of files) {
      const rel = safeRelativePath(prefix ? `${prefix}/${f.path}` : f.path);
      if (f.is_dir) out.push(...(await listArtifacts(`${path}/${f.path}`, rel)));
      else out.push({ path: rel, size: f.file_size === undefined ? undefined : Number(f.file_size) });
    }
    return out;
  }

  async function downloadServed(artifactPath: string, dir: string): Promise<Record<string, CachedFile>> {
    const listing = await listArtifacts(artifactPath);
    if (listing.length === 0) {
      throw new RegistryError('invalid', `${where}: the artifact location ${artifactPath} holds no files`);
    }
    const files: Record<string, CachedFile> = {};
    for (const f of listing) {
      const url = `api/2.0/mlflow-artifacts/artifacts/${`${artifactPath}/${f.path}`.split('/').map(encodeURIComponent).join('/')}`;
      const res = await client.raw('GET', url);
      if (!res.ok || !res.body) {
        await res.body?.cancel();
        throw new MlflowError(
          res.status >= 500 ? 'unreachable' : 'other',
          `downloading ${f.path} answered ${res.status}`,
          {
            status: res.status,
          },
        );
      }
      try {
        files[f.path] = await writeHashed(res.body, join(dir, f.path));
      } catch (err) {
        const fsErr = err as NodeJS.ErrnoException;
        if (fsErr.syscall !== undefined && fsErr.code !== 'ECONNRESET') {
          throw new CacheError(
            'unwritable',
            `cannot write ${f.path} into the model cache (${fsErr.code}): free space or fix MODEL_CACHE_DIR's permissions`,
          );
        }
        // The body stopped coming (MLFLOW_REQUEST_TIMEOUT_MS, a reset): as unreachable as no answer.
        const why =
          (err as Error).name === 'TimeoutError'
            ? `not complete within ${opts.timeoutMs ?? 30_000} ms`
            : (err as Error).message;
        throw new MlflowError('unreachable', `${where}: the download of ${f.path} was interrupted (${why})`, {
          cause: err,
        });
      }
      if (f.size !== undefined && files[f.path].bytes !== f.size) {
        throw new MlflowError(
          'unreachable',
          `download of ${f.path} was cut short: ${files[f.path].bytes} of ${f.size} bytes`,
        );
      }
    }
    return files;
  }

  async function copyLocal(src: string, dir: string): Promise<Record<string, CachedFile>> {
    let names: string[];
    try {
      if (!(await stat(src)).isDirectory()) throw new Error('not a directory');
      names = (await readdir(src, { recursive: true, withFileTypes: true }))
        .filter((e) => e.isFile())
        .map((e) => relative(src, join(e.parentPath, e.name)));
    } catch (err) {
      throw new RegistryError(
        'unreadable',
        `the version's artifacts are at ${src} (a path on the MLflow server's file system), which this process cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): mount the same volume here, or run the server with --serve-artifacts`,
      );
    }
    const files: Record<string, CachedFile> = {};
    for (const rel of names) {
      const key = safeRelativePath(rel.replaceAll('\\', '/'));
      files[key] = await writeHashed(createReadStream(join(src, rel)), join(dir, key));
    }
    return files;
  }

  async function download(name: string, version: string): Promise<{ dir: string }> {
    const { artifact_uri: uri } = await client.call<{ artifact_uri: string }>(
      'GET',
      'model-versions/get-download-uri',
      {
        name,
        version,
      },
    );
    let fill: (dir: string) => Promise<Record<string, CachedFile>>;
    const served = /^mlflow-artifacts:(?:\/\/[^/]*)?\/?(.*)$/.exec(uri);
    if (served) fill = (dir) => downloadServed(served[1].replace(/\/+$/, ''), dir);
    else if (uri.startsWith('file:')) fill = (dir) => copyLocal(fileURLToPath(uri), dir);
    else if (isAbsolute(uri)) fill = (dir) => copyLocal(uri, dir);
    else {
      throw new RegistryError(
        'invalid',
        `version ${version} of ${name} is stored at ${uri.replace(/\/\/[^/@]*@/, '//')}, which msg-cls does not read directly: run the tracking server with --serve-artifacts (the default) so that it serves the files, or use a file:// artifact root on a shared volume`,
      );
    }
    return cache.store(name, version, uri, fill).catch((err) => {
      if (err instanceof CacheError) throw new RegistryError('unreadable', err.message);
      throw err;
    });
  }

  async function fetchVersion(name: string, version: string, alias?: string): Promise<ModelRef> {
    let dir: string | undefined;
    try {
      dir = (await cache.verified(name, version)).dir;
    } catch (err) {
      if (!(err instanceof CacheError)) throw err;
      if (err.code === 'corrupt')
        log(
          'warn',
          { model: { name, version }, reason: err.message },
          'cached model version is corrupt; downloading it again',
        );
    }
    const downloaded = dir === undefined;
    if (dir === undefined) {
      try {
        dir = (await download(name, version)).dir;
      } catch (err) {
        explain(err, name);
      }
      log('info', { model: { name, version }, registry: client.location }, 'model version downloaded into the cache');
    }
    if (alias !== undefined) await cache.recordAlias(name, alias, version).catch(() => undefined);
    if (downloaded) {
      // Older downloads go, except what an alias was last resolved to (the fallback at start).
      const removed = await cache.prune(name, CACHE_KEEP_VERSIONS).catch(() => []);
      if (removed.length > 0)
        log('info', { model: { name }, removed_versions: removed }, 'old cached model versions removed');
    }
    return { name, version, alias, dir, origin: 'registry' };
  }

  /** The registry is unreachable: the version last resolved for this selector, from the cache. */
  async function fromCache(name: string, selector: ModelSelector, cause: RegistryError): Promise<ModelRef> {
    const alias = selector.version === undefined ? (selector.alias ?? 'champion') : undefined;
    const record = alias === undefined ? undefined : await cache.lastAlias(name, alias);
    const version = selector.version ?? record?.version;
    if (version === undefined) {
      throw new RegistryError(
        'unavailable',
        `${cause.message}; and MODEL_CACHE_DIR (${opts.cacheDir}) holds no version resolved earlier for ${name}@${alias}`,
      );
    }
    let dir: string;
    try {
      dir = (await cache.verified(name, version)).dir;
    } catch (err) {
      throw new RegistryError(
        'unavailable',
        `${cause.message}; and the cached version ${version} of ${name} cannot be used: ${(err as Error).message} (it is refused; it will be downloaded again once the server answers)`,
      );
    }
    const since = record ? ` (resolved for alias ${alias} at ${record.resolved_at})` : '';
    return {
      name,
      version,
      alias,
      dir,
      origin: 'cache',
      originReason: `${where} was unreachable at start; serving version ${version} of ${name} from the model cache${since} until the registry answers again. Cause: ${cause.message}`,
    };
  }

  async function list(name?: string): Promise<ModelInfo[]> {
    try {
      let models: RM[];
      if (name !== undefined) {
        models = [
          (await client.call<{ registered_model: RM }>('GET', 'registered-models/get', { name })).registered_model,
        ];
      } else {
        models = [];
        let page_token: string | undefined;
        do {
          const res = await client.call<{ registered_models?: RM[]; next_page_token?: string }>(
            'GET',
            'registered-models/search',
            {
              max_results: 1000,
              page_token,
            },
          );
          models.push(...(res.registered_models ?? []));
          page_token = res.next_page_token || undefined;
        } while (page_token);
      }
      const out: ModelInfo[] = [];
      for (const rm of models) {
        const aliases = Object.fromEntries((rm.aliases ?? []).map((a) => [a.alias, String(a.version)]));
        const mvs: MV[] = [];
        let page_token: string | undefined;
        do {
          const res = await client.call<{ model_versions?: MV[]; next_page_token?: string }>(
            'GET',
            'model-versions/search',
            {
              filter: `name='${rm.name.replaceAll("'", "\\'")}'`,
              max_results: 10_000,
              page_token,
            },
          );
          mvs.push(...(res.model_versions ?? []));
          page_token = res.next_page_token || undefined;
        } while (page_token);
        mvs.sort((a, b) => Number(a.version) - Number(b.version));
        const versions: VersionInfo[] = mvs.map((mv) => ({
          version: String(mv.version),
          created_at: mv.creation_timestamp ? new Date(Number(mv.creation_timestamp)).toISOString() : undefined,
          format: mv.tags?.find((t) => t.key === 'msgcls.format')?.value,
          aliases: Object.keys(aliases).filter((a) => aliases[a] === String(mv.version)),
          metrics: undefined,
        }));
        out.push({ name: rm.name, versions, aliases });
      }
      return out.sort((a, b) => a.name.localeCompare(b.name));
    } catch (err) {
      explain(err, name ?? '');
    }
  }

  return {
    kind: 'mlflow',
    location: client.location,
    client,
    cache,
    lookup,
    fetch: fetchVersion,
    async resolve(name, selector) {
      let found: { version: string; alias: string | undefined };
      try {
        found = await lookup(name, selector);
      } catch (err) {
        if (err instanceof RegistryError && err.code === 'unavailable') return fromCache(name, selector, err);
        throw err;
      }
      try {
        return await fetchVersion(name, found.version, found.alias);
      } catch (err) {
        if (err instanceof RegistryError && err.code === 'unavailable') return fromCache(name, selector, err);
        throw err;
      }
    },
    list,
    async setAlias(name, alias, version) {
      validateModelName(name);
      validateAlias(alias);
      try {
        await lookup(name, { version });
        await client.call('POST', 'registered-models/alias', { name, alias, version });
      } catch (err) {
        explain(err, name);
      }
    },
    async deleteAlias(name, alias) {
      validateModelName(name);
      try {
        const aliases = await aliasesOf(name);
        if (!(alias in aliases)) return false;
        await client.call('DELETE', 'registered-models/alias', { name, alias });
        return true;
      } catch (err) {
        explain(err, name);
      }
    },
  };
}
