# msg-cls production image.
#   build:  docker build -t msg-cls .          (podman works the same)
#   run:    docker run --init --read-only -p 8000:8000 msg-cls
# Two stages: `build` installs production dependencies only, strips what does not run, and warms Node's
# compile cache by starting the service once (a smoke test: the build fails if the service cannot start);
# the runtime stage copies the result onto a clean slim base. Training-only packages (the SpamAssassin
# data set, TypeScript, Biome, autocannon) are devDependencies and never enter either stage's
# node_modules. See deploy/README.md.

# Debian (glibc), not Alpine (musl): onnxruntime-node's prebuilt binaries need glibc.
FROM node:24-bookworm-slim AS build
WORKDIR /app
ENV NODE_ENV=production \
    ONNXRUNTIME_NODE_INSTALL=skip \
    SCARF_ANALYTICS=false \
    npm_config_audit=false \
    npm_config_fund=false \
    npm_config_update_notifier=false

COPY package.json package-lock.json ./
# --ignore-scripts: no production dependency needs an install script (swagger-ui-dist's is telemetry).
RUN npm ci --omit=dev --ignore-scripts \
 && npm cache clean --force \
 && rm -rf ~/.npm /tmp/* \
 # Strip what production never loads: tests, docs, examples, type declarations, source maps, and the
 # Swagger UI bundles that /docs does not serve (it serves swagger-ui-bundle.js and swagger-ui.css).
 && find node_modules -depth -type d \( -name test -o -name tests -o -name __tests__ -o -name docs \
      -o -name example -o -name examples -o -name benchmark -o -name benchmarks -o -name .github \
      -o -name coverage \) -prune -exec rm -rf {} + \
 && find node_modules -type f \( -name '*.map' -o -name '*.md' -o -name '*.markdown' -o -name '*.d.ts' \
      -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.tsbuildinfo' -o -name 'tsconfig*.json' \
      -o -name '.eslintrc*' -o -name 'eslint.config.*' -o -name '.prettierrc*' -o -name '.npmignore' \
      -o -name '.taprc' -o -name 'Makefile' \) -delete \
 && rm -f node_modules/swagger-ui-dist/swagger-ui-es-bundle*.js node_modules/swagger-ui-dist/swagger-ui.js \
      node_modules/swagger-ui-dist/swagger-ui-standalone-preset.js node_modules/swagger-ui-dist/log.*.txt \
 # onnxruntime-node ships its native library for every platform (288 MB): keep only this image's
 # (linux/x64 45 MB, linux/arm64 25 MB; the build stage runs on the target platform, so node knows it),
 # and drop its install scripts (they only download CUDA libraries, skipped here).
 && ort=node_modules/onnxruntime-node && keep="linux/$(node -p process.arch)" \
 && test -f "$ort/bin/napi-v6/$keep/libonnxruntime.so.1" \
 && find "$ort/bin/napi-v6" -mindepth 2 -maxdepth 2 -type d ! -path "*/$keep" -exec rm -rf {} + \
 && find "$ort/bin/napi-v6" -mindepth 1 -maxdepth 1 -type d -empty -delete \
 && rm -rf "$ort/script" \
 # The dashboard serves uPlot's minified browser bundle only.
 && rm -f node_modules/uplot/dist/uPlot.cjs.js node_modules/uplot/dist/uPlot.esm.js node_modules/uplot/dist/uPlot.iife.js

COPY bin ./bin
COPY src ./src
COPY models ./models
COPY deploy/healthcheck.js deploy/smoke-test.js deploy/warm-compile-cache.js ./deploy/

# Start the service once so every module it loads is compiled into the cache the runtime stage reads:
# with the runtime's NODE_OPTIONS and as the runtime's user, uid 1000 — Node keys the cache directory by
# version, flags and uid, so a cache written by root is never read by the service.
ENV NODE_COMPILE_CACHE=/app/.cache/node-compile \
    NODE_OPTIONS="--max-old-space-size-percentage=40 --max-semi-space-size=2"
RUN mkdir -p /app/.cache && chown 1000:1000 /app/.cache
USER 1000:1000
RUN node deploy/warm-compile-cache.js
USER root
RUN rm deploy/warm-compile-cache.js && chown -R root:root /app/.cache && chmod -R a+rX /app/.cache

FROM node:24-bookworm-slim
# No locale package is installed for ONNX models: skl2onnx's StringNormalizer asks for en_US.UTF-8,
# which slim images lack, and the model loader rewrites that to C.UTF-8 (built into glibc) instead
# (src/model/onnx.ts); test/container serves such a model in this image.
LABEL org.opencontainers.image.title="msg-cls" \
      org.opencontainers.image.description="Text classifier (spam/ham) served 24x7 with health checks and observability" \
      org.opencontainers.image.licenses="Apache-2.0"
# V8 memory: the heap is capped at 40% of the memory the container gets (about 100 MB of 256 MB), so V8
# collects garbage before the heap outgrows the VM and a runaway heap ends in a clean exit the supervisor
# restarts, not in the kernel's OOM killer; young-generation semi-spaces stay at 2 MB, as in
# bin/msg-cls.js's shebang and `npm start` (deploy/README.md, "Sizing").
# The root filesystem is read-only, so the prediction log has nowhere to go by default: the image runs
# with STORE_URL=off. Set STORE_URL=postgres://… (several instances), or mount a writable volume and set
# STORE_URL=sqlite:/data/msg-cls.db, to get feedback, online quality and the prediction log.
# MALLOC_MMAP_THRESHOLD_: glibc serves allocations of 128 KiB and more (model weights, file buffers) with
# their own mmap and gives them back to the OS when freed. Its default threshold adapts upwards after the
# first such free, and the memory of every later model load then stays in malloc's heap: 50 hot swaps
# took RSS from 139 to 165 MB, against 109 to 112 MB with the threshold fixed (test/leak).
# MALLOC_ARENA_MAX=2: two malloc arenas instead of one per thread; 5–10 MB less RSS after load, same
# throughput (bin/runtime.js MALLOC_ENV; README, Performance).
ENV NODE_ENV=production \
    NODE_COMPILE_CACHE=/app/.cache/node-compile \
    NODE_OPTIONS="--max-old-space-size-percentage=40 --max-semi-space-size=2" \
    MALLOC_MMAP_THRESHOLD_=131072 \
    MALLOC_ARENA_MAX=2 \
    PORT=8000 \
    HOST=0.0.0.0 \
    STORE_URL=off \
    MODEL_CACHE_DIR=/var/cache/msg-cls
WORKDIR /app
# Owned by root and read-only for the service user: the app cannot modify its own code or model, and it
# writes nothing at run time, so the container runs with a read-only root filesystem (--read-only).
COPY --from=build /app /app
# Models downloaded from MLflow (MLFLOW_TRACKING_URI) are kept here, with checksums, so that a restart
# while MLflow is down serves the last version: mount a volume on it (the directory is owned by uid 1000,
# and a fresh volume takes that owner from the image, so it is writable by the service). Unused with the
# local registry. VOLUME: ECS on Fargate gives a bind mount on this path the image's owner only when the
# Dockerfile declares it (otherwise root, 0755); Docker and Podman give `--read-only` runs an anonymous
# volume here (removed with `rm -v`); Kubernetes ignores it (deploy/kubernetes mounts an emptyDir).
RUN mkdir -p /var/cache/msg-cls && chown 1000:1000 /var/cache/msg-cls
VOLUME ["/var/cache/msg-cls"]

# The base image's `node` user (uid 1000); numeric so Kubernetes can verify runAsNonRoot.
USER 1000:1000
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "deploy/healthcheck.js"]
STOPSIGNAL SIGTERM
# Exec form, node directly: SIGTERM reaches the service, which drains in-flight requests and exits 0.
CMD ["node", "bin/msg-cls.js", "serve"]
