// Fastify's schema compilers with a cache on disk, next to Node's compile cache. At every start Fastify
// compiles each route's JSON Schemas: request validators with Ajv, response serializers with
// fast-json-stringify. Loading Ajv and compiling took ~70 ms of a ~270 ms cold start on the dev VM —
// for schemas that are the same from one start to the next. Both compilers can emit their output as
// JavaScript source ("standalone" mode, which Fastify documents for this purpose), so the first start
// stores that source under a hash of everything the code depends on, and the next starts load it
// without loading Ajv or compiling anything.
//
// What runs is always the stored source, on a miss as on a hit (a miss compiles, stores, then loads what
// it stored), so both paths serve the same code. A file that cannot be read, parsed or evaluated is a
// miss; a cache that cannot be written is only slower. The key covers the schema, the external schemas,
// the compiler options and the versions of the compiler packages, so a change to any of them is a miss;
// the settings that end up in schemas (MAX_TEXT_CHARS, MAX_BATCH…) are part of the schema.
//
// Used only when Node's compile cache is on (bin/msg-cls.js turns it on; the container image pre-fills
// it at build time): code run from a cache is only as trusted as that directory, the same trust Node's
// own compile cache asks for. Without it (tests building apps in-process), Fastify's own compilers run.

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import module, { createRequire } from 'node:module';
import { join } from 'node:path';
import type { FastifyServerOptions } from 'fastify';

type Factories = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;
type RouteSchema = { schema: Record<string, unknown>; method: string; url: string; httpPart?: string };

// Bump when the way code is stored or loaded changes.
const FORMAT = 1;

// The compilers Fastify itself would load (its own dependencies), and what their generated code requires.
const fromFastify = createRequire(createRequire(import.meta.url).resolve('fastify'));
const AJV_COMPILER = fromFastify.resolve('@fastify/ajv-compiler');
const FJS_COMPILER = fromFastify.resolve('@fastify/fast-json-stringify-compiler');
const fromAjvCompiler = createRequire(AJV_COMPILER);
const fromFjsCompiler = createRequire(FJS_COMPILER);

/** The cache directory: inside Node's compile cache when that is on, else undefined (no cache). */
export function schemaCacheDir(): string | undefined {
  const dir = module.getCompileCacheDir?.();
  return dir === undefined ? undefined : join(dir, 'msg-cls-schemas');
}

let versions: string | undefined;
function packageVersions(): string {
  versions ??= [
    [fromFastify, 'fastify/package.json'],
    [fromFastify, '@fastify/ajv-compiler/package.json'],
    [fromFastify, '@fastify/fast-json-stringify-compiler/package.json'],
    [fromAjvCompiler, 'ajv/package.json'],
    [fromFjsCompiler, 'fast-json-stringify/package.json'],
  ]
    .map(([req, name]) => `${name}@${(req as NodeJS.Require)(name as string).version}`)
    .join(',');
  return versions;
}

/** Fastify's `schemaController.compilersFactory`, caching the generated code in `dir`. */
export function cachingCompilers(dir: string): Factories {
  // One function per file: a GET route and its HEAD twin share their schemas, and so their code.
  const loaded = new Map<string, unknown>();
  const load = (file: string, require: NodeJS.Require): unknown => {
    if (loaded.has(file)) return loaded.get(file);
    let fn: unknown;
    try {
      fn = evaluate(readFileSync(file, 'utf8'), require);
    } catch {
      return undefined; // no file yet, or a damaged one: compiled and written again
    }
    if (typeof fn !== 'function') return undefined;
    loaded.set(file, fn);
    return fn;
  };
  const store = (file: string, code: string) => {
    try {
      mkdirSync(dir, { recursive: true });
      // Written whole, then renamed: a start reading it meanwhile sees the old file or none.
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, code);
      renameSync(tmp, file);
    } catch {
      rmSync(`${file}.${process.pid}.tmp`, { force: true });
    }
  };
  const fileFor = (kind: string, parts: unknown[]) =>
    join(
      dir,
      `${kind}-${createHash('sha256')
        .update(JSON.stringify([FORMAT, packageVersions(), ...parts]))
        .digest('hex')
        .slice(0, 32)}.js`,
    );

  return {
    buildValidator(externalSchemas, ajvOptions) {
      // Fastify's default compiler, loaded (with Ajv) only on a miss; `code.source` lets Ajv emit the source.
      let compiler: ((route: RouteSchema) => unknown) | undefined;
      const options = {
        ...ajvOptions,
        customOptions: { ...ajvOptions?.customOptions, code: { ...ajvOptions?.customOptions?.code, source: true } },
      };
      const validator = (route: RouteSchema) => {
        const file = fileFor('validator', [route.schema, route.httpPart, externalSchemas, options]);
        const cached = load(file, fromAjvCompiler);
        if (cached) return cached;
        const ajvCompiler = fromFastify('@fastify/ajv-compiler');
        compiler ??= ajvCompiler()(externalSchemas, options);
        const fn = (compiler as (route: RouteSchema) => unknown)(route);
        const ajv = (compiler as unknown as Record<symbol, { ajv: unknown }>)[ajvCompiler.AjvReference].ajv;
        const code: string = fromAjvCompiler('ajv/dist/standalone').default(ajv, fn);
        store(file, code);
        return load(file, fromAjvCompiler) ?? evaluate(code, fromAjvCompiler);
      };
      return validator as unknown as ReturnType<NonNullable<Factories['buildValidator']>>;
    },

    buildSerializer(externalSchemas, serializerOptions) {
      const serializer = (route: { schema: Record<string, unknown> }) => {
        const file = fileFor('serializer', [route.schema, externalSchemas, serializerOptions]);
        const cached = load(file, fromFjsCompiler);
        if (cached) return cached;
        // As @fastify/fast-json-stringify-compiler calls it, in standalone mode.
        const externals = { ...(externalSchemas as Record<string, unknown>) };
        if (typeof route.schema.$id === 'string') delete externals[route.schema.$id];
        const fjs = fromFjsCompiler('fast-json-stringify');
        const code: string = fjs(route.schema, { ...serializerOptions, schema: externals, mode: 'standalone' });
        store(file, code);
        return load(file, fromFjsCompiler) ?? evaluate(code, fromFjsCompiler);
      };
      return serializer as unknown as ReturnType<NonNullable<Factories['buildSerializer']>>;
    },
  };
}

/** Runs generated CommonJS source; its `require`s resolve from the compiler package that generated it. */
function evaluate(code: string, require: NodeJS.Require): unknown {
  const mod = { exports: {} as unknown };
  new Function('module', 'exports', 'require', code)(mod, mod.exports, require);
  return mod.exports;
}
