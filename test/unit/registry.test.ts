import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  deleteAlias,
  listModels,
  RegistryError,
  readAliases,
  registerVersion,
  resolveModel,
  setAlias,
} from '../../src/registry/local.ts';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'msgcls-registry-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const writeArtifact = (tag: string) => async (dir: string) => {
  await writeFile(
    join(dir, 'model.json'),
    JSON.stringify({ format: 'test/1', created_at: tag, metrics: { holdout: { f1: 0.5 } } }),
  );
};

describe('local registry', () => {
  test('registers numbered versions and resolves by alias and by version', async () => {
    const v1 = await registerVersion(root, 'm', writeArtifact('a'));
    const v2 = await registerVersion(root, 'm', writeArtifact('b'));
    assert.equal(v1.version, '1');
    assert.equal(v2.version, '2');
    await setAlias(root, 'm', 'champion', '1');
    await setAlias(root, 'm', 'challenger', '2');
    const byAlias = await resolveModel(root, 'm', { alias: 'champion' });
    assert.equal(byAlias.version, '1');
    assert.equal(byAlias.alias, 'champion');
    assert.equal(JSON.parse(await readFile(join(byAlias.dir, 'model.json'), 'utf8')).created_at, 'a');
    const byVersion = await resolveModel(root, 'm', { alias: 'champion', version: '2' });
    assert.equal(byVersion.version, '2');
    assert.equal(byVersion.alias, undefined);
  });

  test('concurrent registrations get distinct versions and leave no temp dirs', async () => {
    const refs = await Promise.all(
      Array.from({ length: 8 }, (_, i) => registerVersion(root, 'c', writeArtifact(String(i)))),
    );
    assert.deepEqual(
      refs.map((r) => Number(r.version)).sort((a, b) => a - b),
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
    const [info] = (await listModels(root)).filter((m) => m.name === 'c');
    assert.equal(info.versions.length, 8);
  });

  test('a failing writer registers nothing', async () => {
    await assert.rejects(
      registerVersion(root, 'f', async () => {
        throw new Error('disk full');
      }),
      /disk full/,
    );
    assert.deepEqual(
      (await listModels(root)).filter((m) => m.name === 'f'),
      [],
    );
  });

  test('lists models with versions and aliases', async () => {
    const models = await listModels(root);
    const m = models.find((x) => x.name === 'm');
    assert.ok(m);
    assert.deepEqual(m.aliases, { challenger: '2', champion: '1' });
    assert.deepEqual(
      m.versions.map((v) => [v.version, v.aliases]),
      [
        ['1', ['champion']],
        ['2', ['challenger']],
      ],
    );
    assert.equal(m.versions[0].format, 'test/1');
  });

  test('alias changes are validated and deletable', async () => {
    await assert.rejects(setAlias(root, 'm', 'champion', '9'), /has no version 9 \(versions: 1, 2\)/);
    await assert.rejects(setAlias(root, 'm', 'v2', '1'), /reserved/);
    await assert.rejects(setAlias(root, 'm', 'latest', '1'), /reserved/);
    await assert.rejects(setAlias(root, 'm', 'has space', '1'), RegistryError);
    assert.equal(await deleteAlias(root, 'm', 'challenger'), true);
    assert.equal(await deleteAlias(root, 'm', 'challenger'), false);
    assert.deepEqual(await readAliases(root, 'm'), { champion: '1' });
  });

  test('errors say what exists and what to do', async () => {
    await assert.rejects(resolveModel(join(root, 'nope'), 'm', {}), /does not exist: set MODEL_REGISTRY/);
    await assert.rejects(resolveModel(root, 'zzz', {}), /model "zzz" is not in registry .* \(models there: c, m\)/);
    await assert.rejects(resolveModel(root, 'm', { alias: 'staging' }), /has no alias "staging" \(aliases: champion\)/);
    await assert.rejects(resolveModel(root, 'm', { version: '7' }), /has no version 7; versions: 1, 2/);
    await assert.rejects(resolveModel(root, '../m', {}), /model name "..\/m" is not valid/);
  });

  test('a corrupt aliases.json is reported, not ignored', async () => {
    await registerVersion(root, 'bad', writeArtifact('x'));
    await writeFile(join(root, 'bad', 'aliases.json'), '{not json');
    await assert.rejects(resolveModel(root, 'bad', { alias: 'champion' }), /aliases.json is not valid JSON/);
  });
});
