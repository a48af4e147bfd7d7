// Just enough of the Dockerfile and .dockerignore formats for the doctor: instructions with their line
// numbers, line continuations, comments, the `escape` parser directive, heredocs, stages, and
// .dockerignore patterns with `!` exceptions.

import { posix } from 'node:path';

export type Instruction = {
  /** Upper-case keyword: FROM, RUN, COPY, ... */
  keyword: string;
  /** Everything after the keyword, continuations joined with a space. */
  args: string;
  /** 1-based line of the keyword. */
  line: number;
  /** Index of the build stage (0 = first FROM); -1 before the first FROM (ARG). */
  stage: number;
};

export type Stage = { index: number; image: string; name: string | undefined; line: number };

export type Dockerfile = { instructions: Instruction[]; stages: Stage[] };

export function parseDockerfile(text: string): Dockerfile {
  const lines = text.split(/\r?\n/);
  let escapeChar = '\\';
  // Parser directives: `# directive=value` lines at the very top.
  for (const raw of lines) {
    const m = /^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$/.exec(raw);
    if (!m) break;
    if (m[1].toLowerCase() === 'escape' && (m[2] === '`' || m[2] === '\\')) escapeChar = m[2];
  }
  const instructions: Instruction[] = [];
  const stages: Stage[] = [];
  let i = 0;
  while (i < lines.length) {
    const first = lines[i].trim();
    if (first === '' || first.startsWith('#')) {
      i++;
      continue;
    }
    const startLine = i + 1;
    const parts: string[] = [];
    let cur = lines[i];
    for (;;) {
      const trimmed = cur.replace(/\s+$/, '');
      if (trimmed.endsWith(escapeChar) && i + 1 < lines.length) {
        parts.push(trimmed.slice(0, -1));
        i++;
        // Comment lines inside a continued instruction are dropped, as Docker does.
        while (i < lines.length && lines[i].trim().startsWith('#')) i++;
        cur = lines[i] ?? '';
        continue;
      }
      parts.push(trimmed);
      i++;
      break;
    }
    const joined = parts.map((p) => p.trim()).join(' ');
    const m = /^(\S+)\s*(.*)$/.exec(joined);
    if (!m) continue;
    const keyword = m[1].toUpperCase();
    const args = m[2];
    // Heredocs (`RUN <<EOF`): skip their bodies.
    for (const h of args.matchAll(/<<-?\s*["']?([A-Za-z_][A-Za-z0-9_]*)["']?/g)) {
      while (i < lines.length && lines[i].replace(/^\t+/, '').trim() !== h[1]) i++;
      i++;
    }
    if (keyword === 'FROM') {
      const words = args.split(/\s+/).filter((w) => !w.startsWith('--'));
      const asAt = words.findIndex((w) => w.toLowerCase() === 'as');
      stages.push({
        index: stages.length,
        image: words[0] ?? '',
        name: asAt >= 0 ? words[asAt + 1] : undefined,
        line: startLine,
      });
    }
    instructions.push({ keyword, args, line: startLine, stage: stages.length - 1 });
  }
  return { instructions, stages };
}

/** Instructions of the last stage (the image that runs). */
export function finalStage(df: Dockerfile): Instruction[] {
  const last = df.stages.length - 1;
  return df.instructions.filter((ins) => ins.stage === last && last >= 0);
}

/** A JSON-array (exec-form) argument list, or undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.trimStart().startsWith('[')) return undefined;
  try {
    const parsed = JSON.parse(args);
    return Array.isArray(parsed) && parsed.every((a) => typeof a === 'string') ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** `ENV A=1 B="two"` or the legacy `ENV A 1` → key/value pairs. */
export function parseEnv(args: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!/^[^\s=]+=/.test(args)) {
    const m = /^(\S+)\s+(.*)$/.exec(args);
    if (m) out[m[1]] = m[2];
    return out;
  }
  for (const m of args.matchAll(/([^\s=]+)=("((?:[^"\\]|\\.)*)"|'([^']*)'|(\S*))/g)) {
    out[m[1]] = m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : (m[4] ?? m[5] ?? '');
  }
  return out;
}

/** Words of a shell-ish argument list, dropping `--flag` options (COPY --chown=…, --from=…). */
export function words(args: string): { flags: Record<string, string>; rest: string[] } {
  const exec = execForm(args);
  const list = exec ?? args.split(/\s+/).filter(Boolean);
  const flags: Record<string, string> = {};
  const rest: string[] = [];
  for (const w of list) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(w);
    if (m && exec === undefined) flags[m[1]] = m[2] ?? 'true';
    else rest.push(w);
  }
  return { flags, rest };
}

export type IgnoreRule = { pattern: string; negate: boolean; line: number };

export function parseDockerignore(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  text.split(/\r?\n/).forEach((raw, idx) => {
    let p = raw.trim();
    if (p === '' || p.startsWith('#')) return;
    const negate = p.startsWith('!');
    if (negate) p = p.slice(1).trim();
    p = posix.normalize(p.replace(/^\/+/, '')).replace(/\/+$/, '');
    if (p === '.' || p === '') return;
    rules.push({ pattern: p, negate, line: idx + 1 });
  });
  return rules;
}

/**
 * A .dockerignore pattern as a RegExp, with Docker's semantics (Go's filepath.Match plus `**`): `*` and
 * `?` stay within one path segment and also match names that start with a dot; `**` spans segments.
 */
export function dockerGlob(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re += `[${pattern
          .slice(i + 1, end)
          .replace(/^\^/, '^')
          .replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else if (c === '\\' && i + 1 < pattern.length) {
      i++;
      re += pattern[i].replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * Whether the build context path (relative, forward slashes) is excluded by .dockerignore: the last
 * matching rule wins, and a rule that matches a parent directory matches everything inside it.
 */
export function isIgnored(rules: IgnoreRule[], path: string): IgnoreRule | undefined {
  const clean = posix.normalize(path.replace(/^\.?\/+/, '')).replace(/\/+$/, '');
  const candidates: string[] = [];
  const segs = clean.split('/');
  for (let n = 1; n <= segs.length; n++) candidates.push(segs.slice(0, n).join('/'));
  let verdict: IgnoreRule | undefined;
  for (const rule of rules) {
    const re = dockerGlob(rule.pattern);
    if (candidates.some((c) => re.test(c))) verdict = rule.negate ? undefined : rule;
  }
  return verdict;
}
