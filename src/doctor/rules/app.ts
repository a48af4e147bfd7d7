// Doctor rule: the app configuration the deployment's environment gives — would the service start?

import { collect, type Rule } from '../context.ts';

export const appRules: Rule = (ctx) => {
  const { out, add } = collect();
  for (const p of ctx.configProblems) {
    add(
      'error',
      'app-config-invalid',
      Object.keys(ctx.flyEnv).length ? 'fly.toml' : ctx.dockerfileName,
      `the service would refuse to start: ${p}`,
      'correct the value in fly.toml [env] (or the Dockerfile ENV)',
    );
  }
  return out;
};
