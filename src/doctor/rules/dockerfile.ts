// Doctor rule: the Dockerfile's final stage — base image, user, port, command, health check, NODE_ENV.

import { type Add, collect, isTable, type Rule } from '../context.ts';
import { type Dockerfile, execForm, finalStage } from '../dockerfile.ts';

export const dockerfileRules: Rule = (ctx) => {
  const { out, add } = collect();
  if (ctx.df) checkDockerfile(ctx.df, ctx.dockerfileName, ctx.env, ctx.listenPort, ctx.portSource, add);
  else if (!(isTable(ctx.fly?.build) && typeof ctx.fly.build.image === 'string')) {
    add(
      'error',
      'dockerfile-missing',
      ctx.dockerfileName,
      `no ${ctx.dockerfileName}: nothing to build or deploy`,
      "copy this project's Dockerfile into DIR (or set [build] image in fly.toml)",
    );
  }
  return out;
};

function checkDockerfile(
  df: Dockerfile,
  name: string,
  env: Record<string, string>,
  listenPort: number | undefined,
  portSource: string,
  add: Add,
): void {
  const final = finalStage(df);
  if (df.stages.length === 0) {
    add(
      'error',
      'dockerfile-no-from',
      name,
      'the Dockerfile has no FROM instruction',
      'start it with e.g. `FROM node:24-bookworm-slim`',
    );
    return;
  }
  const base = df.stages[df.stages.length - 1];
  if (/alpine/i.test(base.image)) {
    add(
      'warning',
      'base-image-musl',
      name,
      `line ${base.line}: the runtime base ${base.image} uses musl; native modules such as onnxruntime-node ship glibc binaries`,
      'use node:24-bookworm-slim',
    );
  }
  if (df.stages.length === 1) {
    add(
      'info',
      'single-stage',
      name,
      'single-stage build: build tools and dev dependencies stay in the image',
      'build in one stage (npm ci, prune) and copy only the result into a slim runtime stage',
    );
  }
  const users = final.filter((i) => i.keyword === 'USER');
  const lastUser = users.at(-1);
  const user = lastUser?.args.trim().split(':')[0];
  if (lastUser === undefined || user === 'root' || user === '0') {
    add(
      'error',
      'runs-as-root',
      name,
      lastUser
        ? `line ${lastUser.line}: the container runs as root (USER ${lastUser.args.trim()})`
        : 'the container runs as root (no USER in the final stage)',
      'add `USER node` (uid 1000 in the official Node images; `USER 1000:1000` lets Kubernetes verify runAsNonRoot) after the last RUN',
    );
  }
  const exposed = final
    .filter((i) => i.keyword === 'EXPOSE')
    .flatMap((i) => i.args.split(/\s+/).map((p) => Number(p.split('/')[0])))
    .filter((p) => Number.isFinite(p));
  if (exposed.length === 0) {
    add(
      'warning',
      'no-expose',
      name,
      'no EXPOSE: platforms that read it (fly launch, docker run -P) cannot guess the port',
      `add \`EXPOSE ${listenPort ?? 8000}\``,
    );
  } else if (listenPort !== undefined && !exposed.includes(listenPort)) {
    add(
      'error',
      'expose-mismatch',
      name,
      `EXPOSE ${exposed.join(' ')} but the app listens on ${listenPort} (${portSource}) → 502 Bad Gateway`,
      `set \`EXPOSE ${listenPort}\`, or PORT to ${exposed[0]} — both must be the same port`,
    );
  }
  const cmd = final.filter((i) => i.keyword === 'CMD').at(-1);
  const entry = final.filter((i) => i.keyword === 'ENTRYPOINT').at(-1);
  for (const ins of [entry, cmd]) {
    if (!ins) continue;
    const exec = execForm(ins.args);
    if (exec === undefined) {
      add(
        'warning',
        'shell-form-cmd',
        name,
        `line ${ins.line}: ${ins.keyword} in shell form runs under /bin/sh, which does not pass SIGTERM on: no graceful shutdown`,
        `use the exec form: ${ins.keyword} ["node", "bin/msg-cls.js", "serve"]`,
      );
    } else if (/^(npm|yarn|pnpm|npx)$/.test(exec[0] ?? '')) {
      add(
        'warning',
        'npm-cmd',
        name,
        `line ${ins.line}: ${ins.keyword} runs ${exec[0]}, which does not forward signals reliably and adds memory`,
        `run node directly: ${ins.keyword} ["node", "bin/msg-cls.js", "serve"]`,
      );
    }
  }
  if (!cmd && !entry) {
    add(
      'error',
      'no-cmd',
      name,
      "no CMD or ENTRYPOINT in the final stage: the container runs the base image's default (a Node REPL)",
      'add `CMD ["node", "bin/msg-cls.js", "serve"]`',
    );
  }
  if (!final.some((i) => i.keyword === 'HEALTHCHECK')) {
    add(
      'warning',
      'no-healthcheck',
      name,
      'no HEALTHCHECK: `docker ps` and compose cannot tell a hung service from a healthy one',
      'add `HEALTHCHECK CMD ["node", "deploy/healthcheck.js"]` (the slim image has no curl)',
    );
  }
  if (env.NODE_ENV !== 'production') {
    add('warning', 'node-env', name, 'NODE_ENV is not "production" in the image', 'add `ENV NODE_ENV=production`');
  }
}
