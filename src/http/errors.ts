// Every error the API returns has one shape, {"error": code, "detail": what happened and what to do,
// "request_id"}, and every client mistake maps to a 4xx here — a 5xx means a bug on our side.

import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

export type ErrorBody = { error: string; detail: string; request_id?: string };

export const errorSchema = {
  type: 'object',
  properties: {
    error: { type: 'string', description: 'Machine-readable error code.' },
    detail: { type: 'string', description: 'What went wrong and how to fix the request.' },
    request_id: { type: 'string' },
  },
  required: ['error', 'detail'],
} as const;

/** An error a handler throws on purpose; its status and code reach the client as they are. */
export class HttpError extends Error {
  readonly statusCode: number;
  readonly code: string;
  constructor(statusCode: number, code: string, detail: string) {
    super(detail);
    this.name = 'HttpError';
    this.statusCode = statusCode;
    this.code = code;
  }
}

export type Limits = { maxBatch: number; maxTextChars: number; maxBodyBytes: number };

type ValidationIssue = { keyword: string; instancePath: string; message?: string; params: Record<string, unknown> };

function describeValidation(issue: ValidationIssue, limits: Limits): { status: number; code: string; detail: string } {
  const where = issue.instancePath === '' ? 'body' : `body${issue.instancePath.replaceAll('/', '.')}`;
  switch (issue.keyword) {
    case 'maxLength':
      return {
        status: 413,
        code: 'text_too_long',
        detail: `${where} is longer than ${limits.maxTextChars} characters (MAX_TEXT_CHARS): shorten or split the text`,
      };
    case 'maxItems':
      return {
        status: 413,
        code: 'batch_too_large',
        detail: `${where} has more than ${limits.maxBatch} texts (MAX_BATCH): send the batch in smaller parts`,
      };
    case 'minLength':
      return { status: 400, code: 'empty_text', detail: `${where} is empty: send a non-empty text` };
    case 'minItems':
      return { status: 400, code: 'empty_batch', detail: `${where} is empty: send at least one text` };
    case 'type':
      return {
        status: 400,
        code: 'invalid_type',
        detail: `${where} must be ${issue.params.type === 'object' ? 'a JSON object' : `of type ${issue.params.type}`}`,
      };
    case 'required':
      return {
        status: 400,
        code: 'missing_field',
        detail: `${where} must have the field ${JSON.stringify(issue.params.missingProperty)}`,
      };
    default:
      return { status: 400, code: 'invalid_request', detail: `${where} ${issue.message ?? 'is not valid'}` };
  }
}

/** Maps any error thrown while handling a request to a status and a client-safe body. */
export function toErrorResponse(err: FastifyError, limits: Limits): { status: number; body: ErrorBody } {
  if (err instanceof HttpError) return { status: err.statusCode, body: { error: err.code, detail: err.message } };
  if (err.validation && err.validation.length > 0) {
    const { status, code, detail } = describeValidation(err.validation[0] as ValidationIssue, limits);
    return { status, body: { error: code, detail } };
  }
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        status: 415,
        body: {
          error: 'unsupported_media_type',
          detail: 'send the body as JSON with the header Content-Type: application/json',
        },
      };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        status: 413,
        body: {
          error: 'body_too_large',
          detail: `the request body is larger than ${limits.maxBodyBytes} bytes (MAX_BODY_BYTES): send fewer or shorter texts`,
        },
      };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return {
        status: 400,
        body: { error: 'empty_body', detail: 'the request body is empty: send a JSON object such as {"text": "..."}' },
      };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return {
        status: 400,
        body: { error: 'malformed_json', detail: `the request body is not valid JSON: ${err.message}` },
      };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return {
        status: 400,
        body: { error: 'invalid_content_length', detail: 'Content-Length does not match the body sent' },
      };
  }
  if (err instanceof SyntaxError && err.statusCode === 400) {
    // JSON.parse failures and prototype-poisoning rejections from Fastify's JSON parser.
    return {
      status: 400,
      body: { error: 'malformed_json', detail: `the request body is not valid JSON: ${err.message}` },
    };
  }
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    return { status, body: { error: 'bad_request', detail: err.message } };
  }
  return {
    status: 500,
    body: {
      error: 'internal_error',
      detail: 'an unexpected error occurred; it was logged with this request id — report it if it persists',
    },
  };
}

export function sendError(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  error: string,
  detail: string,
): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send({ error, detail, request_id: request.id });
}
