// The Open Inference Protocol (KServe "v2", Triton, MLServer) over the same data plane as /predict:
// a request that comes in here is routed (rollout), predicted, counted, logged and stored exactly as
// a POST /predict is. Texts come in as one BYTES input of shape [N] or [N, 1]; the answer has a
// `label` output (BYTES, [N]) and a `probabilities` output (FP32, [N, labels]) in the order of the
// model's labels (see GET /v2/models/{name}: its outputs' `parameters.labels`).
//
// Both encodings of tensors are accepted: JSON (`data`), and the binary tensor extension tritonclient
// uses by default (`parameters.binary_data_size`, the header Inference-Header-Content-Length, then
// the raw tensors after the JSON; BYTES elements as a 4-byte little-endian length and the bytes).
// Errors are `{"error": "..."}`, as the protocol says.

import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../config.ts';
import type { Prediction } from '../../model/types.ts';
import { hasVisibleText } from '../../model/visible.ts';
import { type Logs, safeError } from '../../monitoring/logging.ts';
import type { DataPlane } from '../../serving/dataplane.ts';
import { SERVICE_NAME, SERVICE_VERSION } from '../../version.ts';
import { type Limits, toErrorResponse } from '../errors.ts';
import { acquireModel, type LoadedModel, releaseModel } from '../state.ts';

/** A protocol error: sent as {"error": message} with this status. */
class V2Error extends Error {
  readonly statusCode: number;
  constructor(statusCode: number, message: string) {
    super(message);
    this.statusCode = statusCode;
  }
}

// The protocol's error body, and what every v2 route documents (its answers are the protocol's JSON).
const v2ErrorSchema = {
  type: 'object',
  properties: { error: { type: 'string', description: 'What went wrong and what to do.' } },
  required: ['error'],
} as const;
const v2Responses = {
  200: { type: 'object', additionalProperties: true },
  '4xx': v2ErrorSchema,
} as const;

type Tensor = {
  name?: unknown;
  shape?: unknown;
  datatype?: unknown;
  data?: unknown;
  parameters?: Record<string, unknown>;
};
type InferRequest = {
  id?: unknown;
  parameters?: Record<string, unknown>;
  inputs?: unknown;
  outputs?: unknown;
};

const OUTPUTS = ['label', 'probabilities'] as const;
type OutputName = (typeof OUTPUTS)[number];

export function v2Routes(
  app: FastifyInstance,
  dp: DataPlane,
  config: Pick<Config, 'maxBatch' | 'maxTextChars' | 'maxBodyBytes'>,
  logs: Logs,
): void {
  const limits: Limits = config;
  app.register(async (v2) => {
    // The protocol's bodies are JSON, optionally followed by binary tensors, and tritonclient sends
    // them without a Content-Type: read every body as bytes and parse it here.
    v2.removeAllContentTypeParsers();
    v2.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

    v2.setErrorHandler((err: FastifyError, request, reply) => {
      if (err instanceof V2Error) return v2Error(reply, err.statusCode, err.message);
      const { status, body } = toErrorResponse(err, limits);
      if (status >= 500) {
        logs.exception.error(
          { request_id: request.id, route: request.routeOptions.url, err: safeError(err) },
          'unhandled error while serving a request',
        );
      }
      return v2Error(reply, status, status >= 500 ? `internal error (request id ${request.id})` : body.detail);
    });

    v2.get('/v2', { schema: { summary: 'Server metadata', response: v2Responses } }, () => ({
      name: SERVICE_NAME,
      version: SERVICE_VERSION,
      extensions: ['binary_tensor_data'],
    }));
    v2.get('/v2/health/live', { schema: { summary: 'Server liveness (200: live)', response: v2Responses } }, () => ({
      live: true,
    }));
    v2.get(
      '/v2/health/ready',
      { schema: { summary: 'Server readiness (200: ready, 400: not ready)', response: v2Responses } },
      (_r, reply) => {
        if (!dp.ready()) return v2Error(reply, 400, 'the model is not loaded yet; retry shortly');
        return { ready: true };
      },
    );

    type P = { name: string; version?: string };
    const metadata = (request: FastifyRequest<{ Params: P }>) => {
      const model = modelFor(request.params);
      const labels = model.classifier.labels;
      const versions = [dp.slots().champion, dp.slots().challenger]
        .filter((m): m is LoadedModel => m !== undefined)
        .map((m) => m.info.version);
      return {
        name: model.info.name,
        versions,
        platform: model.manifest.format,
        inputs: [{ name: 'text', datatype: 'BYTES', shape: [-1] }],
        outputs: [
          { name: 'label', datatype: 'BYTES', shape: [-1] },
          {
            name: 'probabilities',
            datatype: 'FP32',
            shape: [-1, labels.length],
            parameters: { labels: labels.join(',') },
          },
        ],
      };
    };
    v2.get<{ Params: P }>(
      '/v2/models/:name',
      { schema: { summary: 'Model metadata', response: v2Responses } },
      metadata,
    );
    v2.get<{ Params: P }>(
      '/v2/models/:name/versions/:version',
      { schema: { summary: 'Model version metadata', response: v2Responses } },
      metadata,
    );
    const ready = (request: FastifyRequest<{ Params: P }>) => {
      const model = modelFor(request.params);
      return { name: model.info.name, version: model.info.version, ready: true };
    };
    v2.get<{ Params: P }>(
      '/v2/models/:name/ready',
      { schema: { summary: 'Model readiness', response: v2Responses } },
      ready,
    );
    v2.get<{ Params: P }>(
      '/v2/models/:name/versions/:version/ready',
      { schema: { summary: 'Model version readiness', response: v2Responses } },
      ready,
    );

    const infer = async (request: FastifyRequest<{ Params: P; Body: Buffer }>, reply: FastifyReply) => {
      // A wrong name or version is a 404 before the body is looked at.
      const named = modelFor(request.params);
      const { req, binary } = parseBody(request);
      const texts = readTexts(req, binary, config);
      const wanted = requestedOutputs(req);
      // Without a version in the path, the rollout decides, as for POST /predict.
      const m = acquireModel(request.params.version === undefined ? dp.route(request) : named);
      try {
        const { ps, predictionId } = await dp.many(request, m, texts);
        return sendInferResponse(reply, request, m, req, ps, predictionId, wanted);
      } finally {
        releaseModel(m);
      }
    };
    // The infer bodies are the protocol's (its own spec documents them), with constraints JSON Schema
    // cannot state — a tensor's shape must match its data, BYTES may follow the JSON as binary — so
    // they are left out of /openapi.json rather than documented wrongly; npm run test:oip drives them
    // with tritonclient, test/http/v2.test.ts with every error.
    v2.post<{ Params: P; Body: Buffer }>(
      '/v2/models/:name/infer',
      { schema: { summary: 'Inference (texts in a BYTES input)', response: v2Responses, hide: true } },
      infer,
    );
    v2.post<{ Params: P; Body: Buffer }>(
      '/v2/models/:name/versions/:version/infer',
      {
        schema: {
          summary: 'Inference with one version (bypasses the rollout assignment)',
          response: v2Responses,
          hide: true,
        },
      },
      infer,
    );
  });

  /** The loaded model a path names: the champion, or the version asked for; 400 before any is loaded. */
  function modelFor(params: { name: string; version?: string }): LoadedModel {
    const champion = dp.slots().champion;
    if (champion === undefined || !dp.ready()) throw new V2Error(400, 'the model is not loaded yet; retry shortly');
    if (params.name !== champion.info.name) {
      throw new V2Error(404, `there is no model "${params.name}": this server serves "${champion.info.name}"`);
    }
    if (params.version === undefined) return champion;
    const m = dp.byVersion(params.version);
    if (m === undefined) {
      const loaded = [dp.slots().champion, dp.slots().challenger].filter(Boolean).map((x) => x?.info.version);
      throw new V2Error(
        404,
        `version "${params.version}" of "${params.name}" is not loaded: loaded versions are ${loaded.join(', ')}`,
      );
    }
    return m;
  }
}

function v2Error(reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send({ error: message });
}

function parseBody(request: FastifyRequest<{ Body: Buffer }>): { req: InferRequest; binary: Buffer | undefined } {
  const body = request.body;
  if (!Buffer.isBuffer(body) || body.length === 0) {
    throw new V2Error(
      400,
      'the request body is empty: send {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [N], "data": [...]}]}',
    );
  }
  const headerLength = request.headers['inference-header-content-length'];
  let jsonEnd = body.length;
  if (headerLength !== undefined) {
    const n = Number(headerLength);
    if (!Number.isInteger(n) || n <= 0 || n > body.length) {
      throw new V2Error(
        400,
        `Inference-Header-Content-Length is ${JSON.stringify(headerLength)}: it must be the length of the JSON part (1 to ${body.length})`,
      );
    }
    jsonEnd = n;
  }
  let req: unknown;
  try {
    req = JSON.parse(body.toString('utf8', 0, jsonEnd));
  } catch (err) {
    throw new V2Error(400, `the request is not valid JSON: ${(err as Error).message}`);
  }
  if (req === null || typeof req !== 'object' || Array.isArray(req)) {
    throw new V2Error(400, 'the request must be a JSON object with "inputs"');
  }
  return { req: req as InferRequest, binary: jsonEnd < body.length ? body.subarray(jsonEnd) : undefined };
}

function readTexts(
  req: InferRequest,
  binary: Buffer | undefined,
  limits: Pick<Config, 'maxBatch' | 'maxTextChars'>,
): string[] {
  if (!Array.isArray(req.inputs) || req.inputs.length === 0) {
    throw new V2Error(400, '"inputs" is missing or empty: send one BYTES input named "text" holding the texts');
  }
  if (req.inputs.length > 1) {
    throw new V2Error(400, `"inputs" has ${req.inputs.length} tensors: send exactly one BYTES input ("text")`);
  }
  const input = req.inputs[0] as Tensor;
  if (input === null || typeof input !== 'object') throw new V2Error(400, 'inputs[0] must be an object');
  if (input.datatype !== 'BYTES') {
    throw new V2Error(
      400,
      `input "${String(input.name)}" has datatype ${JSON.stringify(input.datatype)}: send the texts as BYTES`,
    );
  }
  const shape = input.shape;
  if (
    !Array.isArray(shape) ||
    !shape.every((d) => Number.isInteger(d) && d >= 0) ||
    !(shape.length === 1 || (shape.length === 2 && shape[1] === 1))
  ) {
    throw new V2Error(
      400,
      `input "${String(input.name)}" has shape ${JSON.stringify(shape)}: use [N] or [N, 1] for N texts`,
    );
  }
  const n = shape[0] as number;
  if (n === 0) throw new V2Error(400, 'the input holds no texts (shape [0]): send at least one');
  if (n > limits.maxBatch) {
    throw new V2Error(
      413,
      `the input holds ${n} texts, more than ${limits.maxBatch} (MAX_BATCH): send smaller batches`,
    );
  }
  let texts: unknown[];
  const binarySize = input.parameters?.binary_data_size;
  if (binarySize !== undefined) {
    texts = readBinaryBytes(binary, binarySize, n);
  } else if (Array.isArray(input.data)) {
    texts = input.data.flat();
  } else {
    throw new V2Error(400, 'the input has no "data" (nor parameters.binary_data_size): put the texts in "data"');
  }
  if (texts.length !== n) {
    throw new V2Error(400, `the input's shape ${JSON.stringify(shape)} says ${n} texts but it holds ${texts.length}`);
  }
  for (let i = 0; i < n; i++) {
    const t = texts[i];
    if (typeof t !== 'string')
      throw new V2Error(400, `text ${i} is not a string: send the texts as BYTES (UTF-8 strings)`);
    if (!hasVisibleText(t)) throw new V2Error(400, `text ${i} has no visible characters: send non-empty texts`);
    if (t.length > limits.maxTextChars) {
      throw new V2Error(
        413,
        `text ${i} is longer than ${limits.maxTextChars} characters (MAX_TEXT_CHARS): shorten or split it`,
      );
    }
  }
  return texts as string[];
}

/** BYTES elements of the binary tensor extension: a 4-byte little-endian length, then the bytes. */
function readBinaryBytes(binary: Buffer | undefined, size: unknown, n: number): string[] {
  if (binary === undefined || !Number.isInteger(size) || (size as number) > binary.length) {
    throw new V2Error(
      400,
      `parameters.binary_data_size is ${JSON.stringify(size)} but ${binary?.length ?? 0} bytes follow the JSON: send the Inference-Header-Content-Length header and the tensor after the JSON`,
    );
  }
  const out: string[] = [];
  let at = 0;
  const end = size as number;
  while (at < end && out.length <= n) {
    if (at + 4 > end) throw new V2Error(400, 'the binary BYTES tensor ends inside an element length');
    const len = binary.readUInt32LE(at);
    at += 4;
    if (at + len > end) throw new V2Error(400, 'the binary BYTES tensor ends inside an element');
    out.push(binary.toString('utf8', at, at + len));
    at += len;
  }
  return out;
}

type Wanted = { names: readonly OutputName[]; binary: Record<OutputName, boolean> };

function requestedOutputs(req: InferRequest): Wanted {
  const all = req.parameters?.binary_data_output === true;
  if (req.outputs === undefined) return { names: OUTPUTS, binary: { label: all, probabilities: all } };
  if (!Array.isArray(req.outputs)) throw new V2Error(400, '"outputs" must be a list of {"name": ...}');
  const names: OutputName[] = [];
  const binary = { label: all, probabilities: all };
  for (const o of req.outputs as Tensor[]) {
    const name = o?.name;
    if (name !== 'label' && name !== 'probabilities') {
      throw new V2Error(400, `there is no output ${JSON.stringify(name)}: the outputs are "label" and "probabilities"`);
    }
    names.push(name);
    if (o.parameters?.binary_data === true) binary[name] = true;
    else if (o.parameters?.binary_data === false) binary[name] = false;
  }
  return { names, binary };
}

function sendInferResponse(
  reply: FastifyReply,
  request: FastifyRequest,
  model: LoadedModel,
  req: InferRequest,
  ps: Prediction[],
  predictionId: string,
  wanted: Wanted,
): FastifyReply {
  const labels = model.classifier.labels;
  const n = ps.length;
  const blobs: Buffer[] = [];
  const outputs = wanted.names.map((name) => {
    if (name === 'label') {
      const data = ps.map((p) => p.label);
      if (!wanted.binary.label) return { name, datatype: 'BYTES', shape: [n], data };
      const parts = data.flatMap((s) => {
        const b = Buffer.from(s, 'utf8');
        const len = Buffer.alloc(4);
        len.writeUInt32LE(b.length);
        return [len, b];
      });
      const blob = Buffer.concat(parts);
      blobs.push(blob);
      return { name, datatype: 'BYTES', shape: [n], parameters: { binary_data_size: blob.length } };
    }
    const data = new Float32Array(n * labels.length);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < labels.length; j++) data[i * labels.length + j] = ps[i].probabilities[labels[j]] ?? 0;
    }
    const shape = [n, labels.length];
    if (!wanted.binary.probabilities) return { name, datatype: 'FP32', shape, data: Array.from(data) };
    const blob = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    blobs.push(blob);
    return { name, datatype: 'FP32', shape, parameters: { binary_data_size: blob.length } };
  });
  const body = {
    model_name: model.info.name,
    model_version: model.info.version,
    ...(typeof req.id === 'string' ? { id: req.id } : {}),
    parameters: {
      model_role: model.info.role,
      request_id: request.id,
      // The id to send POST /feedback labels for (item i of this batch is index i).
      prediction_id: predictionId,
      labels: labels.join(','),
    },
    outputs,
  };
  if (blobs.length === 0) return reply.type('application/json; charset=utf-8').send(body);
  const json = Buffer.from(JSON.stringify(body), 'utf8');
  return reply
    .header('inference-header-content-length', String(json.length))
    .type('application/octet-stream')
    .send(Buffer.concat([json, ...blobs]));
}
