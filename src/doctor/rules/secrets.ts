// Doctor rule: secrets where they do not belong (fly.toml [env], the image).

import { type Finding, finding, type Rule } from '../context.ts';
import { parseEnv } from '../dockerfile.ts';

const SECRET_NAME = /(SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL|AUTH)/i;
const SECRET_VALUE = [
  /^sk-[A-Za-z0-9_-]{16,}$/, // OpenAI-style keys
  /^gh[pousr]_[A-Za-z0-9]{20,}$/, // GitHub tokens
  /^AKIA[0-9A-Z]{16}$/, // AWS access key ids
  /^FlyV1 /, // Fly tokens
  /^xox[abprs]-/, // Slack tokens
  /:\/\/[^/\s:@]+:[^/\s@]+@/, // URLs with user:password@
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
];

const secretLike = (name: string, value: string) =>
  (SECRET_NAME.test(name) && value.trim() !== '') || SECRET_VALUE.some((re) => re.test(value));

/** Secrets written into fly.toml [env] or baked into the image (ENV, ARG). */
export const secretRules: Rule = (ctx) => {
  const out: Finding[] = [];
  for (const [k, v] of Object.entries(ctx.flyEnv)) {
    if (secretLike(k, String(v))) {
      out.push(
        finding(
          'error',
          'secret-in-env',
          'fly.toml',
          `[env] ${k} looks like a secret: fly.toml is committed to git and shown by \`fly config show\``,
          `remove it from [env] and run \`fly secrets set ${k}=...\` (secrets reach the Machine as the same environment variable)`,
        ),
      );
    }
  }
  for (const ins of ctx.final.filter((i) => i.keyword === 'ENV' || i.keyword === 'ARG')) {
    const pairs =
      ins.keyword === 'ENV'
        ? parseEnv(ins.args)
        : Object.fromEntries(ins.args.split(/\s+/).map((a) => [a.split('=')[0], a.split('=').slice(1).join('=')]));
    for (const [k, v] of Object.entries(pairs)) {
      if (secretLike(k, v)) {
        out.push(
          finding(
            'error',
            'secret-in-image',
            ctx.dockerfileName,
            `line ${ins.line}: ${ins.keyword} ${k} bakes a secret into the image, readable by anyone who can pull it`,
            'pass it at run time instead: `fly secrets set`, a Kubernetes Secret, ECS `secrets`, or an env file outside the image',
          ),
        );
      }
    }
  }
  return out;
};
