// `npm pack` / `npm publish` ship JavaScript: Node does not strip types under node_modules
// (ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING), so an installed msg-cls cannot run its .ts sources.
//   node scripts/pack.ts emit    (prepack)  tsc → .pack-build/src, then each emitted file copied next to
//                                           its .ts source (the package keeps the repository's layout, so
//                                           paths relative to a module stay right); the list goes to
//                                           .pack-emitted.json
//   node scripts/pack.ts clean   (postpack) removes exactly those copies
// Covers every file under src/ (tsconfig.build.json includes all of it); hand-written .js files under src/
// ship as they are. bin/msg-cls.js loads src/cli/main.ts when it exists, else main.js.

import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BUILD = join(ROOT, '.pack-build');
const LIST = join(ROOT, '.pack-emitted.json');

function clean(): void {
  if (existsSync(LIST)) {
    for (const file of JSON.parse(readFileSync(LIST, 'utf8')) as string[]) rmSync(join(ROOT, file), { force: true });
    rmSync(LIST);
  }
  rmSync(BUILD, { recursive: true, force: true });
}

function emit(): void {
  clean();
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: 'inherit' });
  const copied: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const from = join(dir, entry.name);
      if (entry.isDirectory()) walk(from);
      else if (entry.name.endsWith('.js')) {
        const to = join(ROOT, 'src', relative(join(BUILD, 'src'), from));
        if (existsSync(to)) throw new Error(`${relative(ROOT, to)} exists next to its .ts source; rename one of them`);
        if (!existsSync(dirname(to))) throw new Error(`no folder for ${relative(ROOT, to)}`);
        copyFileSync(from, to);
        copied.push(relative(ROOT, to));
      }
    }
  };
  try {
    walk(join(BUILD, 'src'));
  } finally {
    writeFileSync(LIST, JSON.stringify(copied, null, 1));
  }
  process.stderr.write(`pack: ${copied.length} JavaScript files emitted next to their sources\n`);
}

const cmd = process.argv[2];
if (cmd === 'emit') emit();
else if (cmd === 'clean') clean();
else {
  process.stderr.write('usage: node scripts/pack.ts emit|clean\n');
  process.exit(2);
}
