// The local model registry: a directory with the same concepts as the MLflow Model Registry
// (registered models, numbered versions, aliases such as `champion`), laid out as
//
//   <root>/<name>/versions/<n>/model.json (+ the artifact's other files)
//   <root>/<name>/aliases.json            {"champion": "1", ...}
//
// Versions are immutable once written: a new version is assembled in a temporary directory and
// renamed into place, so a reader never sees half an artifact and two concurrent writers never get
// the same number. aliases.json is replaced atomically the same way.

import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelManifest } from '../model/types.ts';
import { verifyChecksums } from './checksums.ts';
import type { ModelInfo, ModelRef, ModelSelector, Registry, VersionInfo } from './types.ts';

export type { ModelInfo, ModelRef, VersionInfo } from './types.ts';

export class RegistryError extends Error {
  /**
   * `unavailable`: a remote registry did not answer (network, timeout, 5xx) — worth retrying, and the
   * model cache may stand in; `auth`: it refused our credentials.
   */
  readonly code: 'not_found' | 'invalid' | 'unreadable' | 'unavailable' | 'auth';
  constructor(code: RegistryError['code'], message: string) {
    super(message);
    this.name = 'RegistryError';
    this.code = code;
  }
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const ALIAS_RE = /^[A-Za-z_][A-Za-z0-9_-]{0,127}$/;
const VERSION_RE = /^[1-9][0-9]{0,8}$/;

export function validateModelName(name: string): void {
  if (!NAME_RE.test(name)) {
    throw new RegistryError(
      'invalid',
      `model name ${JSON.stringify(name)} is not valid: use letters, digits, '_', '.' or '-', starting with a letter or digit`,
    );
  }
}

export function validateAlias(alias: string): void {
  // Same rule as MLflow: an alias must not be mistakable for a version ("v3") or for "latest".
  if (!ALIAS_RE.test(alias) || /^v\d+$/i.test(alias) || alias.toLowerCase() === 'latest') {
    throw new RegistryError(
      'invalid',
      `alias ${JSON.stringify(alias)} is not valid: use letters, digits, '_' or '-', starting with a letter or '_'; "latest" and "v<number>" are reserved`,
    );
  }
}

function validateVersion(version: string): void {
  if (!VERSION_RE.test(version)) {
    throw new RegistryError(
      'invalid',
      `version ${JSON.stringify(version)} is not valid: versions are whole numbers from 1`,
    );
  }
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function readRoot(root: string): Promise<string[]> {
  try {
    return await readdir(root);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new RegistryError(
        'not_found',
        `model registry ${root} does not exist: set MODEL_REGISTRY to the registry directory, or train a model with \`msg-cls train\``,
      );
    }
    throw new RegistryError(
      'unreadable',
      `model registry ${root} cannot be read (${code}): check the path and its permissions`,
    );
  }
}

export async function listVersions(root: string, name: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(join(root, name, 'versions'));
  } catch {
    return [];
  }
  return entries.filter((e) => VERSION_RE.test(e)).sort((a, b) => Number(a) - Number(b));
}

export async function readAliases(root: string, name: string): Promise<Record<string, string>> {
  const path = join(root, name, 'aliases.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new RegistryError('unreadable', `cannot read ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new RegistryError(
      'invalid',
      `${path} is not valid JSON: fix it or point the alias again with \`msg-cls models alias\``,
    );
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new RegistryError('invalid', `${path} must be a JSON object of alias → version`);
  }
  const out: Record<string, string> = {};
  for (const [alias, version] of Object.entries(parsed)) out[alias] = String(version);
  return out;
}

async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`);
  await rename(tmp, path);
}

/** Resolves a model by exact version, or else by alias, to the directory of its artifact. */
export async function resolveModel(
  root: string,
  name: string,
  selector: { alias?: string; version?: string },
): Promise<ModelRef> {
  validateModelName(name);
  const models = await readRoot(root);
  if (!models.includes(name) || !(await isDir(join(root, name)))) {
    const known = (await listModelNames(root)).join(', ') || 'none';
    throw new RegistryError(
      'not_found',
      `model ${JSON.stringify(name)} is not in registry ${root} (models there: ${known}): set MODEL_NAME to one of them, or train it with \`msg-cls train --name ${name}\``,
    );
  }
  let version = selector.version;
  let alias: string | undefined;
  if (version === undefined) {
    alias = selector.alias ?? 'champion';
    const aliases = await readAliases(root, name);
    version = aliases[alias];
    if (version === undefined) {
      const known = Object.keys(aliases).join(', ') || 'none';
      throw new RegistryError(
        'not_found',
        `model ${name} has no alias ${JSON.stringify(alias)} (aliases: ${known}): set MODEL_ALIAS to one of them, or point it with \`msg-cls models alias ${name} ${alias} <version>\``,
      );
    }
  }
  validateVersion(version);
  const dir = join(root, name, 'versions', version);
  if (!(await isDir(dir))) {
    const known = (await listVersions(root, name)).join(', ') || 'none';
    throw new RegistryError(
      'not_found',
      `model ${name} has no version ${version}${alias ? ` (alias ${alias} points to it)` : ''}; versions: ${known}`,
    );
  }
  return { name, version, alias, dir };
}

async function listModelNames(root: string): Promise<string[]> {
  const names: string[] = [];
  for (const entry of (await readRoot(root)).sort()) {
    // A model with no versions (e.g. after a failed first registration) is not listed.
    if (NAME_RE.test(entry) && (await listVersions(root, entry)).length > 0) names.push(entry);
  }
  return names;
}

async function readManifest(dir: string): Promise<Partial<ModelManifest> | undefined> {
  // Our format's model.json, else the checksums.json of a version added with `msg-cls models add`.
  for (const file of ['model.json', 'checksums.json']) {
    try {
      return JSON.parse(await readFile(join(dir, file), 'utf8')) as Partial<ModelManifest>;
    } catch {}
  }
  return undefined;
}

export async function describeModel(root: string, name: string): Promise<ModelInfo> {
  const aliases = await readAliases(root, name);
  const versions: VersionInfo[] = [];
  for (const version of await listVersions(root, name)) {
    const manifest = await readManifest(join(root, name, 'versions', version));
    versions.push({
      version,
      created_at: manifest?.created_at,
      format: manifest?.format,
      aliases: Object.keys(aliases).filter((a) => aliases[a] === version),
      metrics: manifest?.metrics as Record<string, unknown> | undefined,
    });
  }
  return { name, versions, aliases };
}

export async function listModels(root: string): Promise<ModelInfo[]> {
  const out: ModelInfo[] = [];
  for (const name of await listModelNames(root)) out.push(await describeModel(root, name));
  return out;
}

/**
 * Registers a new version of `name`: `write` fills a fresh directory with the artifact, which then
 * becomes version max+1 in one rename. Returns the new version.
 */
export async function registerVersion(
  root: string,
  name: string,
  write: (dir: string) => Promise<void>,
): Promise<ModelRef> {
  validateModelName(name);
  const versionsDir = join(root, name, 'versions');
  await mkdir(versionsDir, { recursive: true });
  const tmp = join(root, name, `.incoming-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(tmp);
  try {
    await write(tmp);
    for (let attempt = 0; attempt < 100; attempt++) {
      const existing = await listVersions(root, name);
      const next = String(existing.length === 0 ? 1 : Number(existing[existing.length - 1]) + 1);
      const dir = join(versionsDir, next);
      try {
        await rename(tmp, dir);
        return { name, version: next, alias: undefined, dir };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // Another writer took this number first: try the next one.
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      }
    }
    throw new RegistryError('unreadable', `could not allocate a new version of ${name} after 100 attempts`);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

export async function setAlias(root: string, name: string, alias: string, version: string): Promise<void> {
  validateModelName(name);
  validateAlias(alias);
  validateVersion(version);
  const versions = await listVersions(root, name);
  if (!versions.includes(version)) {
    throw new RegistryError(
      'not_found',
      `model ${name} has no version ${version} (versions: ${versions.join(', ') || 'none'}): run \`msg-cls models\` to see what is registered`,
    );
  }
  const aliases = await readAliases(root, name);
  aliases[alias] = version;
  await writeJsonAtomic(join(root, name, 'aliases.json'), sortKeys(aliases));
}

export async function deleteAlias(root: string, name: string, alias: string): Promise<boolean> {
  validateModelName(name);
  const aliases = await readAliases(root, name);
  if (!(alias in aliases)) return false;
  delete aliases[alias];
  await writeJsonAtomic(join(root, name, 'aliases.json'), sortKeys(aliases));
  return true;
}

function sortKeys(obj: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(obj).sort(([a], [b]) => a.localeCompare(b)));
}

/** The local directory registry behind the Registry interface. */
export function createLocalRegistry(root: string): Registry {
  return {
    kind: 'local',
    location: root,
    async lookup(name: string, selector: ModelSelector) {
      const ref = await resolveModel(root, name, selector);
      return { version: ref.version, alias: ref.alias };
    },
    async fetch(name: string, version: string, alias?: string) {
      const ref = await resolveModel(root, name, { version });
      await verifyChecksums(ref.dir);
      return { ...ref, alias, origin: 'registry' as const };
    },
    async resolve(name: string, selector: ModelSelector) {
      const ref = await resolveModel(root, name, selector);
      await verifyChecksums(ref.dir);
      return { ...ref, origin: 'registry' as const };
    },
    async list(name?: string) {
      return name === undefined ? listModels(root) : [await describeModel(root, name)];
    },
    setAlias: (name, alias, version) => setAlias(root, name, alias, version),
    deleteAlias: (name, alias) => deleteAlias(root, name, alias),
  };
}
