// Doctor rule: .dockerignore — present, excluding what must not reach the build, not excluding what it copies.

import { type Add, collect, type Rule } from '../context.ts';
import { type Dockerfile, isIgnored, parseDockerignore, words } from '../dockerfile.ts';

export const dockerignoreRules: Rule = (ctx) => {
  const { out, add } = collect();
  if (!ctx.df) return out;
  if (ctx.ignoreText === undefined) {
    add(
      'error',
      'dockerignore-missing',
      ctx.ignoreName,
      `no ${ctx.ignoreName}: the whole directory (node_modules, .git, local data, .env files) is sent to the build and may end up in the image`,
      `add a ${ctx.ignoreName} with at least: node_modules, .git, .env*, *.log, coverage (see this project's .dockerignore)`,
    );
  } else checkDockerignore(ctx.df, ctx.dockerfileName, ctx.ignoreName, ctx.ignoreText, add);
  return out;
};

function checkDockerignore(df: Dockerfile, dockerfileName: string, ignoreName: string, text: string, add: Add): void {
  const rules = parseDockerignore(text);
  for (const [path, why] of [
    [
      'node_modules',
      'host node_modules (with native binaries for your OS) are sent to the build and can overwrite the ones installed inside',
    ],
    ['.git', 'the git history is sent to every build (slow, and it may hold secrets)'],
    ['.env', '.env files with secrets can end up in the image'],
  ] as const) {
    if (!isIgnored(rules, path))
      add(
        'warning',
        `dockerignore-${path.replace('.', '')}`,
        ignoreName,
        `${ignoreName} does not exclude ${path}: ${why}`,
        `add a line \`${path === '.env' ? '.env*' : path}\``,
      );
  }
  const excludedDockerfile = isIgnored(rules, dockerfileName);
  if (excludedDockerfile && dockerfileName !== 'Dockerfile') {
    add(
      'error',
      'dockerignore-excludes-dockerfile',
      ignoreName,
      `line ${excludedDockerfile.line} (${excludedDockerfile.pattern}) excludes ${dockerfileName}, which fly deploy needs in the build context`,
      `remove that line or add \`!${dockerfileName}\``,
    );
  }
  for (const ins of df.instructions.filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD')) {
    const { flags, rest } = words(ins.args);
    if (flags.from !== undefined) continue;
    for (const src of rest.slice(0, -1)) {
      if (/[*?[]/.test(src) || /^https?:/.test(src)) continue;
      const rule = isIgnored(rules, src);
      if (rule) {
        add(
          'error',
          'dockerignore-excludes-copied',
          ignoreName,
          `line ${rule.line} (${rule.negate ? '!' : ''}${rule.pattern}) excludes ${src}, which ${dockerfileName} line ${ins.line} copies: the build fails or the image lacks it`,
          `remove that line, or add \`!${src}\` after it`,
        );
      }
    }
  }
}
