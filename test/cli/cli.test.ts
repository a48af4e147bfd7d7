// The msg-cls command line, run as real processes against a temporary registry.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort, runCli } from '../helpers/server.ts';

let dir: string;
let registry: string;

const run = (args: string[], opts: { stdin?: string; env?: Record<string, string> } = {}) =>
  runCli(args, { MODEL_REGISTRY: registry, ...opts.env }, opts.stdin);

const SPAM_WORDS = ['free', 'winner', 'prize', 'cash', 'offer', 'click', 'viagra', 'loan', 'cheap', 'bonus'];
const HAM_WORDS = ['meeting', 'patch', 'review', 'lunch', 'kernel', 'thanks', 'build', 'release', 'notes', 'team'];

function synthetic(n: number): { text: string; label: string }[] {
  const rows = [];
  for (let i = 0; i < n; i++) {
    const spam = i % 2 === 0;
    const words = spam ? SPAM_WORDS : HAM_WORDS;
    const text = Array.from({ length: 6 }, (_, k) => words[(i * 7 + k * 3) % words.length]).join(' ');
    rows.push({ text: `${text} ${i}`, label: spam ? 'spam' : 'ham' });
  }
  return rows;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'msgcls-cli-'));
  registry = join(dir, 'models');
  await writeFile(
    join(dir, 'train.jsonl'),
    synthetic(200)
      .map((r) => JSON.stringify(r))
      .join('\n'),
  );
  const csv = ['id,text,label', ...synthetic(100).map((r, i) => `${i},"${r.text.replace(/"/g, '""')}",${r.label}`)];
  await writeFile(join(dir, 'train.csv'), `${csv.join('\n')}\n`);
});
after(() => rm(dir, { recursive: true, force: true }));

describe('msg-cls CLI', () => {
  test('every command has --help', async () => {
    for (const cmd of ['serve', 'train', 'eval', 'predict', 'models', 'rollout']) {
      const r = await run([cmd, '--help']);
      assert.equal(r.code, 0, `${cmd} --help`);
      assert.match(r.stdout, new RegExp(`^Usage: msg-cls ${cmd}`));
    }
    const top = await run(['--help']);
    assert.equal(top.code, 0);
    assert.match(top.stdout, /Commands:/);
  });

  test('unknown commands and flags are usage errors (exit 2) that say what to do', async () => {
    const r = await run(['fly']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command "fly"; run `msg-cls --help`/);
    const f = await run(['train', '--nope']);
    assert.equal(f.code, 2);
    assert.match(f.stderr, /Run `msg-cls train --help` for usage/);
  });

  test('train registers versions, sets the alias and prints metrics', async () => {
    const first = await run([
      'train',
      '--data',
      join(dir, 'train.jsonl'),
      '--name',
      'demo',
      '--alias',
      'champion',
      '--seed',
      '7',
    ]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.json.name, 'demo');
    assert.equal(first.json.version, '1');
    assert.equal(first.json.alias, 'champion');
    assert.deepEqual(first.json.labels, ['ham', 'spam']);
    for (const k of ['accuracy', 'precision', 'recall', 'f1', 'roc_auc', 'log_loss', 'brier']) {
      assert.equal(typeof first.json.metrics.holdout[k], 'number', k);
    }
    assert.ok(first.json.metrics.holdout.f1 > 0.9, 'separable synthetic data is learned');
    assert.equal(first.json.metrics.holdout.n, 40);

    const second = await run(['train', '--data', join(dir, 'train.csv'), '--name', 'demo']);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.json.version, '2');
    assert.equal(second.json.alias, null);

    const list = await run(['models']);
    assert.equal(list.code, 0);
    const demo = list.json.models.find((m: { name: string }) => m.name === 'demo');
    assert.deepEqual(demo.aliases, { champion: '1' });
    assert.deepEqual(
      demo.versions.map((v: { version: string }) => v.version),
      ['1', '2'],
    );
  });

  test('the same data and seed give the same model', async () => {
    const a = await run(['train', '--data', join(dir, 'train.jsonl'), '--name', 'same', '--seed', '3']);
    const b = await run(['train', '--data', join(dir, 'train.jsonl'), '--name', 'same', '--seed', '3']);
    assert.deepEqual(a.json.metrics, b.json.metrics);
    const weights = (v: string) => readFile(join(registry, 'same', 'versions', v, 'weights.f16'));
    assert.deepEqual(await weights('1'), await weights('2'));
  });

  test('models alias points an alias at a version, and can delete it', async () => {
    const set = await run(['models', 'alias', 'demo', 'challenger', '2']);
    assert.equal(set.code, 0, set.stderr);
    assert.deepEqual(set.json, { name: 'demo', alias: 'challenger', version: '2' });
    const bad = await run(['models', 'alias', 'demo', 'champion', '9']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /has no version 9 \(versions: 1, 2\)/);
    const del = await run(['models', 'alias', 'demo', 'challenger', '--delete']);
    assert.equal(del.code, 0);
    const one = await run(['models', 'demo']);
    assert.deepEqual(one.json.aliases, { champion: '1' });
  });

  test('predict prints a prediction, by alias or version, and reads lines from stdin', async () => {
    const p = await run(['predict', 'free cash prize winner', '--name', 'demo']);
    assert.equal(p.code, 0, p.stderr);
    assert.equal(p.json.label, 'spam');
    assert.deepEqual(p.json.model, { name: 'demo', version: '1' });
    const v2 = await run(['predict', 'team meeting notes', '--name', 'demo', '--version', '2']);
    assert.equal(v2.json.label, 'ham');
    assert.equal(v2.json.model.version, '2');
    const lines = await run(['predict', '-', '--name', 'demo'], { stdin: 'cheap loan offer\n\nkernel patch review\n' });
    const out = lines.stdout.split('\n').map((l) => JSON.parse(l));
    // One output line per input line: the blank one gets an error in its place (issue 12.13).
    assert.deepEqual(
      out.map((o) => o.label ?? o.error),
      ['spam', 'empty_text', 'ham'],
    );
    assert.equal(out[1].line, 2);
    assert.equal(lines.code, 1);
    assert.match(lines.stderr, /1 of 3 line\(s\) blank/);
  });

  test('eval prints the metrics, for either positive label', async () => {
    const e = await run(['eval', '--data', join(dir, 'train.csv'), '--name', 'demo']);
    assert.equal(e.code, 0, e.stderr);
    assert.equal(e.json.n, 100);
    assert.equal(e.json.positive_label, 'spam');
    for (const k of ['accuracy', 'precision', 'recall', 'f1', 'roc_auc', 'log_loss'])
      assert.equal(typeof e.json[k], 'number');
    const ham = await run(['eval', '--data', join(dir, 'train.csv'), '--name', 'demo', '--positive', 'ham']);
    assert.equal(ham.json.positive_label, 'ham');
    assert.equal(ham.json.accuracy, e.json.accuracy);
    assert.ok(Math.abs(ham.json.roc_auc - e.json.roc_auc) < 1e-12);
  });

  test('predict and eval use the registry serve would: MLflow when MLFLOW_TRACKING_URI is set, unless --registry', async () => {
    // Nothing listens on this port: the MLflow registry must be the one asked (and found down, with
    // an empty cache), not the local registry that MODEL_REGISTRY names.
    const mlflowEnv = {
      MLFLOW_TRACKING_URI: `http://127.0.0.1:${await freePort()}`,
      MLFLOW_REQUEST_TIMEOUT_MS: '500',
      MODEL_CACHE_DIR: join(dir, 'empty-cache'),
    };
    const p = await run(['predict', 'free cash prize winner', '--name', 'demo'], { env: mlflowEnv });
    assert.equal(p.code, 2, p.stdout);
    assert.match(p.stderr, /MLflow tracking server http:\/\/127\.0\.0\.1:\d+ is unreachable/);
    assert.match(p.stderr, /holds no version resolved earlier for demo@champion/);
    const e = await run(['eval', '--data', join(dir, 'train.csv'), '--name', 'demo'], { env: mlflowEnv });
    assert.equal(e.code, 2, e.stdout);
    assert.match(e.stderr, /MLflow tracking server .* is unreachable/);
    // --registry DIR picks the local directory even with MLflow configured, as `msg-cls models` does.
    const local = await run(['predict', 'free cash prize winner', '--name', 'demo', '--registry', registry], {
      env: mlflowEnv,
    });
    assert.equal(local.code, 0, local.stderr);
    assert.deepEqual(local.json.model, { name: 'demo', version: '1' });
    const localEval = await run(['eval', '--data', join(dir, 'train.csv'), '--name', 'demo', '--registry', registry], {
      env: mlflowEnv,
    });
    assert.equal(localEval.code, 0, localEval.stderr);
    assert.equal(localEval.json.n, 100);
  });

  test('bad rows are listed with line numbers and stop training unless skipped', async () => {
    const path = join(dir, 'bad.jsonl');
    const good = synthetic(40).map((r) => JSON.stringify(r));
    good.splice(3, 0, '{"text": "no label"}');
    good.splice(10, 0, '{not json');
    good.splice(20, 0, '{"text": "", "label": "spam"}');
    await writeFile(path, good.join('\n'));
    const r = await run(['train', '--data', path, '--name', 'bad']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /3 bad row\(s\)/);
    assert.match(r.stderr, /line 4: /);
    assert.match(r.stderr, /line 11: /);
    assert.match(r.stderr, /line 21: /);
    assert.match(r.stderr, /pass --skip-bad-rows/);
    const models = await run(['models']);
    assert.ok(!models.json.models.some((m: { name: string }) => m.name === 'bad'), 'nothing registered');
    const skipped = await run(['train', '--data', path, '--name', 'bad', '--skip-bad-rows']);
    assert.equal(skipped.code, 0, skipped.stderr);
    assert.equal(skipped.json.training.bad_rows_skipped, 3);
    assert.match(skipped.stderr, /skipping 3 bad row\(s\)/);
  });

  test('training errors say what is wrong with the data', async () => {
    const three = join(dir, 'three.jsonl');
    await writeFile(
      three,
      ['a', 'b', 'c']
        .flatMap((l) => Array.from({ length: 10 }, (_, i) => JSON.stringify({ text: `${l} ${i}`, label: l })))
        .join('\n'),
    );
    const r = await run(['train', '--data', three, '--name', 'x']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /two labels/i);
    const missing = await run(['train', '--data', join(dir, 'nope.jsonl')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read dataset file/);
    const noData = await run(['train']);
    assert.equal(noData.code, 2);
    assert.match(noData.stderr, /--data is required/);
    const ext = await run(['train', '--data', join(dir, 'data.txt')]);
    assert.match(ext.stderr, /cannot tell the format/);
  });

  test('eval rejects labels the model does not know', async () => {
    const path = join(dir, 'other.jsonl');
    await writeFile(
      path,
      `${JSON.stringify({ text: 'x', label: 'eggs' })}\n${JSON.stringify({ text: 'y', label: 'ham' })}\n`,
    );
    const r = await run(['eval', '--data', path, '--name', 'demo']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /labels not known to the model: "eggs"/);
  });
});
