// What the process needs before any TypeScript source loads: a recent enough Node.js, and the V8 memory
// flags. Plain JavaScript that parses on old Node versions too, so that Node 20 gets a sentence saying what
// to do instead of ERR_UNKNOWN_FILE_EXTENSION ".ts". Used by bin/msg-cls.js and by `npm test`
// (scripts/check-node.js).

import { spawn } from 'node:child_process';

/** crypto.randomUUIDv7() (request and record ids) arrived in 24.16. Keep package.json "engines" equal. */
export const MIN_NODE = [24, 16];

/** Why this Node.js cannot run msg-cls (a message saying what to do), or undefined when it can. */
export function nodeVersionProblem(version = process.versions.node) {
  const [major, minor] = version.split('.').map(Number);
  if (major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1])) return undefined;
  return `msg-cls needs Node.js ${MIN_NODE.join('.')} or newer (found ${version}).
Install Node.js 24 from https://nodejs.org/en/download (or with a version manager: \`nvm install 24\`, \`fnm install 24\`, \`volta install node@24\`),
check with \`node --version\`, then run this again; or run the container image, which brings its own Node.js.
`;
}

/**
 * The V8 flags `msg-cls serve` runs with — the one list: the shebang, `npm start`, the Dockerfile and the
 * systemd unit repeat it so that those launchers need no re-execution (it costs one more Node.js boot:
 * ~140 ms of cold start on the loaded dev VM), and test/cli/launch.test.ts checks they agree.
 * V8 reads them only when the heap is created (v8.setFlagsFromString later has no effect — measured),
 * hence the re-execution.
 * --max-semi-space-size=2: V8's default young generation grows to tens of MB per semi-space under load,
 * which took RSS from ~115 MB to ~230 MB for the same throughput (bench/run.ts).
 * --max-old-space-size=1024: with a heap limit of 2 GB or more (V8's default on a machine with 8 GB or
 * more) V8 lets the old generation grow 4× between full collections, below 2 GB by 1.3–2× — RSS after
 * 30 s of 256-text batches was 180 MB with the default limit (4 GB here), 133 MB with 1024, 183 MB with
 * 2048; after single texts 154–163 → 136 MB, at the same requests/s (README, Performance). The service's
 * own heap holds requests in flight and small models (ONNX weights live outside it): tens of MB.
 */
export const V8_FLAGS = ['--max-semi-space-size=2', '--max-old-space-size=1024'];

/**
 * Flags that set what a V8_FLAGS flag sets: given, they stand in for it. The image and the systemd unit
 * size the heap to their memory limit (40 % of 256 MB ≈ 105 MB), which also keeps its growth small.
 */
const STANDS_IN_FOR = { '--max-old-space-size': ['--max-old-space-size-percentage', '--max-heap-size'] };

const flagName = (arg) => arg.split('=', 1)[0].replaceAll('_', '-');

/** The flags that, given by a launcher, stand in for the V8_FLAGS flag `flag` (itself included). */
export function acceptedFor(flag) {
  const name = flagName(flag);
  return [name, ...(STANDS_IN_FOR[name] ?? [])];
}

/** The V8_FLAGS flags and their stand-ins given on the command line or in NODE_OPTIONS, as given. */
export function givenV8Flags(execArgv = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? '') {
  const names = V8_FLAGS.flatMap(acceptedFor);
  return [...new Set([...execArgv, ...nodeOptions.split(/\s+/)].filter((a) => names.includes(flagName(a))))];
}

/** The flags of V8_FLAGS not given on the command line or in NODE_OPTIONS (whatever value they were given). */
export function missingV8Flags(execArgv = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? '') {
  const given = givenV8Flags(execArgv, nodeOptions).map(flagName);
  return V8_FLAGS.filter((f) => !acceptedFor(f).some((n) => given.includes(n)));
}

/**
 * glibc settings for the served process, read only when a process starts — so they ride along whenever
 * `serve` re-executes itself, and the Dockerfile, the systemd unit and `npm start` set them too.
 * MALLOC_ARENA_MAX=2: one arena per thread (main, SQLite worker, libuv and V8 helper threads) held ~27 MB
 * of RSS after load; two arenas saved 5–10 MB at the same throughput (README, Performance).
 * MALLOC_MMAP_THRESHOLD_: see the Dockerfile (freed model buffers go back to the OS across hot swaps).
 */
export const MALLOC_ENV = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' };

const REEXEC_MARK = 'MSG_CLS_V8_FLAGS_MISSING';

/**
 * Re-runs this process with the missing V8 flags (`node bin/msg-cls.js serve` gives none). With
 * process.execve (Node ≥ 23.11, POSIX) the process image is replaced: same pid, same stdio, signals and
 * exit code reach the supervisor unchanged, no second process stays in memory; it costs one more Node.js
 * boot (bench/run.ts prints "cold start re-executed by the bin"). Elsewhere a child process with inherited stdio,
 * forwarded signals and the child's exit status. Returns false when nothing had to be done.
 */
export function reexecWithV8Flags(script, args) {
  const missing = missingV8Flags();
  if (missing.length === 0 || process.env[REEXEC_MARK] !== undefined) return false;
  const argv = [...missing, ...process.execArgv, script, ...args];
  // Tells the re-executed process what was added (serve logs it) and stops a second re-execution.
  const env = { ...MALLOC_ENV, ...process.env, [REEXEC_MARK]: missing.join(' ') };
  if (typeof process.execve === 'function') {
    try {
      process.execve(process.execPath, [process.execPath, ...argv], env);
    } catch {
      // Falls through to a child process (execve refused, e.g. a seccomp profile).
    }
  }
  const child = spawn(process.execPath, argv, { stdio: 'inherit', env });
  const forward = (signal) => child.kill(signal);
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR2']) process.on(signal, forward);
  child.on('exit', (code, signal) => {
    if (signal) {
      for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR2']) process.off(s, forward);
      process.kill(process.pid, signal);
    }
    process.exit(code ?? 1);
  });
  return true;
}

/** What the re-execution added, for the log ('' when the launcher gave every flag). */
export function addedV8Flags() {
  return process.env[REEXEC_MARK] ?? '';
}
