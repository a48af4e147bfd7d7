// The OTEL_* variables msg-cls reads itself since it left @opentelemetry/sdk-node for the narrow packages.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tracingRequested, tracingSettings } from '../../src/monitoring/tracing.ts';

test('defaults: http/protobuf, parent-based always-on, W3C trace context and baggage, no warnings', () => {
  assert.deepEqual(tracingSettings({}), {
    protocol: 'http/protobuf',
    sampler: { kind: 'always_on', parentBased: true, ratio: 1 },
    batch: {},
    propagators: ['tracecontext', 'baggage'],
    warnings: [],
  });
});

test('protocol, sampler, batch processor and propagators from the standard variables', () => {
  const s = tracingSettings({
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: '0.25',
    OTEL_BSP_SCHEDULE_DELAY: '200',
    OTEL_BSP_MAX_QUEUE_SIZE: '4096',
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '256',
    OTEL_BSP_EXPORT_TIMEOUT: '5000',
    OTEL_PROPAGATORS: 'tracecontext',
  });
  assert.equal(s.protocol, 'http/json', 'the traces-specific variable wins');
  assert.deepEqual(s.sampler, { kind: 'traceidratio', parentBased: true, ratio: 0.25 });
  assert.deepEqual(s.batch, {
    scheduledDelayMillis: 200,
    maxQueueSize: 4096,
    maxExportBatchSize: 256,
    exportTimeoutMillis: 5000,
  });
  assert.deepEqual(s.propagators, ['tracecontext']);
  assert.deepEqual(tracingSettings({ OTEL_TRACES_SAMPLER: 'always_off' }).sampler, {
    kind: 'always_off',
    parentBased: false,
    ratio: 1,
  });
});

test('what cannot be honoured is a warning saying what happens instead', () => {
  const s = tracingSettings({
    OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
    OTEL_TRACES_SAMPLER: 'jaeger_remote',
    OTEL_TRACES_SAMPLER_ARG: '2',
    OTEL_BSP_SCHEDULE_DELAY: 'soon',
    OTEL_PROPAGATORS: 'b3,tracecontext',
    OTEL_TRACES_EXPORTER: 'zipkin',
  });
  assert.equal(s.protocol, 'http/protobuf');
  assert.equal(s.warnings.length, 5);
  assert.match(s.warnings.join('\n'), /grpc is not supported .* using http\/protobuf; .*4318/);
  assert.match(s.warnings.join('\n'), /OTEL_TRACES_SAMPLER=jaeger_remote is not supported/);
  assert.match(s.warnings.join('\n'), /OTEL_PROPAGATORS: b3 is not supported/);
  assert.match(s.warnings.join('\n'), /OTEL_TRACES_EXPORTER=zipkin/);
  assert.deepEqual(tracingSettings({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' }).warnings, [
    'OTEL_TRACES_SAMPLER_ARG=2 is not a ratio in [0, 1]: using 1',
  ]);
});

test('on only with an endpoint, off with OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER=none', () => {
  assert.equal(tracingRequested({}), false);
  assert.equal(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x:4318' }), true);
  assert.equal(tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://x:4318/v1/traces' }), true);
  assert.equal(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x', OTEL_SDK_DISABLED: 'true' }), false);
  assert.equal(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x', OTEL_TRACES_EXPORTER: 'none' }), false);
});
