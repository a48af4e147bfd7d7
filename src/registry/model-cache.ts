// The local cache of model versions downloaded from a remote registry (MODEL_CACHE_DIR). It lets a
// restart skip the download, and — what it is for — lets the service start when the registry is down,
// from the version last resolved for its alias. Layout, per tracking server:
//
//   <root>/<server>/<name>/aliases.json               {"champion": {"version": "3", "resolved_at": "…"}}
//   <root>/<server>/<name>/versions/<v>/cache.json    what was downloaded: source, SHA-256 and size per file
//   <root>/<server>/<name>/versions/<v>/model/…       the version's files, as the registry holds them
//
// A version is downloaded into a temporary directory and renamed into place once every file is written
// and hashed, so a half-downloaded version is never seen; every reuse re-checks every file's SHA-256.

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, normalize, sep } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export const CACHE_MANIFEST = 'cache.json';

export type CachedFile = { sha256: string; bytes: number };

export type CacheManifest = {
  name: string;
  version: string;
  /** Where the files came from (the version's artifact URI, no credentials). */
  source: string;
  fetched_at: string;
  files: Record<string, CachedFile>;
};

export type AliasRecord = { version: string; resolved_at: string };

export class CacheError extends Error {
  readonly code: 'missing' | 'corrupt' | 'unwritable';
  constructor(code: CacheError['code'], message: string) {
    super(message);
    this.name = 'CacheError';
    this.code = code;
  }
}

/** A relative artifact path that stays inside its directory (no absolute path, no `..`). */
export function safeRelativePath(rel: string): string {
  const norm = normalize(rel).replaceAll('\\', '/');
  if (rel === '' || norm.startsWith('/') || norm === '..' || norm.startsWith('../') || norm.includes('/../')) {
    throw new CacheError('corrupt', `artifact path ${JSON.stringify(rel)} would leave the model directory`);
  }
  return norm;
}

/** Streams `source` into `path`, returning its SHA-256 and size. */
export async function writeHashed(source: Readable | ReadableStream<Uint8Array>, path: string): Promise<CachedFile> {
  const hash = createHash('sha256');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  await mkdir(dirname(path), { recursive: true });
  const input =
    source instanceof Readable ? source : Readable.fromWeb(source as import('node:stream/web').ReadableStream);
  await pipeline(input, tap, createWriteStream(path));
  return { sha256: hash.digest('hex'), bytes };
}

async function hashFile(path: string): Promise<CachedFile> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** A name safe as one directory level for a server location such as https://mlflow.example:5000/base. */
export function serverKey(location: string): string {
  return (
    location
      .replace(/^[a-z]+:\/\//i, '')
      .replace(/[^A-Za-z0-9.-]+/g, '_')
      .replace(/^_+|_+$/g, '') || 'default'
  );
}

export type ModelCache = {
  readonly root: string;
  /** The directory of a cached version's files, after checking every file against cache.json. */
  verified(name: string, version: string): Promise<{ dir: string; manifest: CacheManifest }>;
  /**
   * Stores a version: `fill(dir)` writes the files into a fresh directory and returns their hashes;
   * the directory becomes the cached version in one rename.
   */
  store(
    name: string,
    version: string,
    source: string,
    fill: (dir: string) => Promise<Record<string, CachedFile>>,
  ): Promise<{ dir: string; manifest: CacheManifest }>;
  remove(name: string, version: string): Promise<void>;
  recordAlias(name: string, alias: string, version: string): Promise<void>;
  /**
   * Removes cached versions of `name` beyond the `keep` most recently fetched, except those an alias
   * record points at (what the service may have to start from). Returns the versions removed.
   */
  prune(name: string, keep: number): Promise<string[]>;
  lastAlias(name: string, alias: string): Promise<AliasRecord | undefined>;
};

export function openModelCache(root: string, server: string): ModelCache {
  const base = join(root, serverKey(server));
  const versionDir = (name: string, version: string) => join(base, name, 'versions', version);

  async function readAliases(name: string): Promise<Record<string, AliasRecord>> {
    try {
      return JSON.parse(await readFile(join(base, name, 'aliases.json'), 'utf8')) as Record<string, AliasRecord>;
    } catch {
      return {};
    }
  }

  return {
    root,
    async verified(name, version) {
      const vdir = versionDir(name, version);
      let manifest: CacheManifest;
      try {
        manifest = JSON.parse(await readFile(join(vdir, CACHE_MANIFEST), 'utf8')) as CacheManifest;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT')
          throw new CacheError('missing', `version ${version} of ${name} is not in the model cache ${base}`);
        throw new CacheError(
          'corrupt',
          `${join(vdir, CACHE_MANIFEST)} cannot be read: ${code ?? (err as Error).message}`,
        );
      }
      const dir = join(vdir, 'model');
      const entries = Object.entries(manifest.files ?? {});
      if (entries.length === 0) throw new CacheError('corrupt', `${join(vdir, CACHE_MANIFEST)} lists no files`);
      for (const [rel, want] of entries) {
        const path = join(dir, safeRelativePath(rel));
        let got: CachedFile;
        try {
          got = await hashFile(path);
        } catch (err) {
          throw new CacheError(
            'corrupt',
            `cached file ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
          );
        }
        if (got.bytes !== want.bytes || got.sha256 !== want.sha256) {
          throw new CacheError(
            'corrupt',
            `cached file ${path} does not match its checksum (SHA-256 ${got.sha256}, ${got.bytes} bytes; ${CACHE_MANIFEST} recorded ${want.sha256}, ${want.bytes} bytes)`,
          );
        }
      }
      return { dir, manifest };
    },
    async store(name, version, source, fill) {
      const parent = join(base, name, 'versions');
      const tmp = join(base, name, `.incoming-${process.pid}-${randomBytes(4).toString('hex')}`);
      try {
        await mkdir(parent, { recursive: true });
        await mkdir(join(tmp, 'model'), { recursive: true });
      } catch (err) {
        throw new CacheError(
          'unwritable',
          `the model cache ${root} is not writable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): set MODEL_CACHE_DIR to a writable directory (in a read-only container, mount a volume there)`,
        );
      }
      try {
        const files = await fill(join(tmp, 'model'));
        const manifest: CacheManifest = { name, version, source, fetched_at: new Date().toISOString(), files };
        await writeFile(join(tmp, CACHE_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
        const dir = versionDir(name, version);
        // A corrupt or partial copy from an earlier run is replaced; a concurrent writer's good copy wins.
        await rm(dir, { recursive: true, force: true });
        try {
          await rename(tmp, dir);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
          await rm(tmp, { recursive: true, force: true });
        }
        return { dir: join(dir, 'model'), manifest };
      } catch (err) {
        await rm(tmp, { recursive: true, force: true });
        throw err;
      }
    },
    async remove(name, version) {
      await rm(versionDir(name, version), { recursive: true, force: true });
    },
    async recordAlias(name, alias, version) {
      const aliases = await readAliases(name);
      if (aliases[alias]?.version === version) return;
      aliases[alias] = { version, resolved_at: new Date().toISOString() };
      const path = join(base, name, 'aliases.json');
      const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
      await mkdir(join(base, name), { recursive: true });
      await writeFile(tmp, `${JSON.stringify(aliases, null, 2)}\n`);
      await rename(tmp, path);
    },
    async prune(name, keep) {
      let versions: string[];
      try {
        versions = (await readdir(join(base, name, 'versions'))).filter((v) => /^[0-9]+$/.test(v));
      } catch {
        return [];
      }
      const pinned = new Set(Object.values(await readAliases(name)).map((r) => r.version));
      const fetched = await Promise.all(
        versions.map(async (v) => {
          try {
            const m = JSON.parse(await readFile(join(versionDir(name, v), CACHE_MANIFEST), 'utf8')) as CacheManifest;
            return { v, at: Date.parse(m.fetched_at) || 0 };
          } catch {
            return { v, at: 0 };
          }
        }),
      );
      fetched.sort((a, b) => b.at - a.at || Number(b.v) - Number(a.v));
      const removed: string[] = [];
      for (const { v } of fetched.slice(keep)) {
        if (pinned.has(v)) continue;
        await rm(versionDir(name, v), { recursive: true, force: true });
        removed.push(v);
      }
      return removed;
    },
    async lastAlias(name, alias) {
      return (await readAliases(name))[alias];
    },
  };
}

/** Used by tests and `models add`: the SHA-256 and size of every file under `dir`, by relative path. */
export async function hashTree(dir: string, files: string[]): Promise<Record<string, CachedFile>> {
  const out: Record<string, CachedFile> = {};
  for (const rel of files) out[rel.split(sep).join('/')] = await hashFile(join(dir, rel));
  return out;
}
