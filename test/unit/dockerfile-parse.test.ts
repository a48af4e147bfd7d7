// The doctor's readers for Dockerfile, .dockerignore and Fly's units (src/doctor).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  dockerGlob,
  execForm,
  finalStage,
  isIgnored,
  parseDockerfile,
  parseDockerignore,
  parseEnv,
  words,
} from '../../src/doctor/dockerfile.ts';
import { parseDuration, parseMemoryMb } from '../../src/doctor/index.ts';

test('Dockerfile: stages, continuations, comments inside them, heredocs, line numbers', () => {
  const df = parseDockerfile(
    [
      '# syntax=docker/dockerfile:1',
      'FROM node:24 AS build',
      'RUN apt-get update \\',
      '# a comment inside the continuation',
      '    && apt-get install -y tini',
      'RUN <<EOF',
      'echo FROM inside a heredoc is not an instruction',
      'EOF',
      '',
      'from node:24-bookworm-slim',
      'USER node',
      'CMD ["node", "server.js"]',
    ].join('\n'),
  );
  assert.deepEqual(
    df.stages.map((s) => [s.image, s.name, s.line]),
    [
      ['node:24', 'build', 2],
      ['node:24-bookworm-slim', undefined, 10],
    ],
  );
  assert.equal(df.instructions[1].args, 'apt-get update && apt-get install -y tini');
  assert.deepEqual(
    finalStage(df).map((i) => [i.keyword, i.line]),
    [
      ['FROM', 10],
      ['USER', 11],
      ['CMD', 12],
    ],
  );
});

test('Dockerfile: the escape directive', () => {
  const df = parseDockerfile('# escape=`\nFROM x\nRUN a `\n  b\nEXPOSE 1');
  assert.equal(df.instructions[1].args, 'a b');
  assert.equal(df.instructions[2].keyword, 'EXPOSE');
});

test('exec form, ENV forms, COPY flags', () => {
  assert.deepEqual(execForm('["node", "a.js"]'), ['node', 'a.js']);
  assert.equal(execForm('node a.js'), undefined);
  assert.equal(execForm('[not json'), undefined);
  assert.deepEqual(parseEnv('A=1 B="two words" C=\'x\''), { A: '1', B: 'two words', C: 'x' });
  assert.deepEqual(parseEnv('LEGACY value with spaces'), { LEGACY: 'value with spaces' });
  assert.deepEqual(words('--chown=1000:1000 --from=build /app /app'), {
    flags: { chown: '1000:1000', from: 'build' },
    rest: ['/app', '/app'],
  });
});

test('.dockerignore: Docker glob rules, dotfiles, parents, and ! exceptions (last match wins)', () => {
  assert.ok(dockerGlob('*').test('.git'), '* matches dotfiles, as in Docker');
  assert.ok(!dockerGlob('*.log').test('a/b.log'), '* stays in one segment');
  assert.ok(dockerGlob('**/*.log').test('b.log') && dockerGlob('**/*.log').test('a/b/c.log'));
  const rules = parseDockerignore('# comment\n*\n!src/\n/src/secret\n!src/secret/keep\n');
  assert.equal(isIgnored(rules, 'node_modules/x')?.pattern, '*');
  assert.equal(isIgnored(rules, 'src/a.ts'), undefined);
  assert.equal(isIgnored(rules, 'src/secret/x')?.pattern, 'src/secret');
  assert.equal(isIgnored(rules, 'src/secret/keep/y'), undefined);
  assert.equal(isIgnored(rules, './src/a.ts'), undefined);
});

test('Fly durations and memory sizes', () => {
  assert.equal(parseDuration('15s', 'ms'), 15_000);
  assert.equal(parseDuration('1m30s', 'ms'), 90_000);
  assert.equal(parseDuration('500ms', 'ms'), 500);
  assert.equal(parseDuration(5, 's'), 5000);
  assert.equal(parseDuration(2000, 'ms'), 2000);
  assert.equal(parseDuration('soon', 'ms'), undefined);
  assert.equal(parseMemoryMb('256mb'), 256);
  assert.equal(parseMemoryMb('1gb'), 1024);
  assert.equal(parseMemoryMb('2GB'), 2048);
  assert.equal(parseMemoryMb(512), 512);
  assert.equal(parseMemoryMb('lots'), undefined);
});
