// Every error the API returns has one shape, {"error": code, "detail": what happened and what to do,
// "request_id"}, and every client mistake maps to a 4xx here — a 5xx means a bug on our side.

import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import secureJson from 'secure-json-parse';

/** What the error mapping may look at besides the error: the route and the parsed body. */
export type ErrorContext = { routeOptions: { url?: string }; body?: unknown };

/** `s` cut to `max` characters (with an ellipsis): client-supplied strings are quoted back only this far. */
export function shorten(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}…`;
}

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

/**
 * A body that must have exactly one of two shapes (`oneOf` in the schema): /predict takes `text` or
 * `texts`, /feedback one label or `items`.
 */
function describeOneOf(
  issue: ValidationIssue,
  context: ErrorContext | undefined,
): { status: number; code: string; detail: string } {
  const raw = context?.body;
  // `required` holds vacuously for a non-object, so oneOf reports "both" for a string or an array.
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { status: 400, code: 'invalid_type', detail: 'body must be a JSON object' };
  }
  const body = raw as Record<string, unknown>;
  if (context?.routeOptions.url === '/feedback') {
    const both = 'items' in body && ('request_id' in body || 'label' in body || 'index' in body);
    return both
      ? {
          status: 400,
          code: 'ambiguous_request',
          detail: 'send either one label (request_id, label, index) or "items", not both',
        }
      : {
          status: 400,
          code: 'missing_field',
          detail:
            'send {"request_id": "<from /predict>", "label": "<true label>"} or {"items": [{"request_id": ..., "label": ...}, ...]}',
        };
  }
  return issue.params.passingSchemas
    ? { status: 400, code: 'ambiguous_request', detail: 'send either "text" or "texts", not both' }
    : {
        status: 400,
        code: 'missing_text',
        detail: 'the body has neither "text" nor "texts": send {"text": "..."} or {"texts": ["...", ...]}',
      };
}

function describeValidation(issue: ValidationIssue, limits: Limits): { status: number; code: string; detail: string } {
  const where = issue.instancePath === '' ? 'body' : `body${issue.instancePath.replaceAll('/', '.')}`;
  const limit = issue.params.limit;
  const predictText = issue.instancePath === '/text' || issue.instancePath.startsWith('/texts');
  switch (issue.keyword) {
    case 'maxLength':
      if (!predictText) {
        return { status: 400, code: 'too_long', detail: `${where} is longer than ${limit} characters: shorten it` };
      }
      return {
        status: 413,
        code: 'text_too_long',
        detail: `${where} is longer than ${limits.maxTextChars} characters (MAX_TEXT_CHARS): shorten or split the text`,
      };
    case 'maxItems':
      if (!predictText) {
        return {
          status: 413,
          code: 'batch_too_large',
          detail: `${where} has more than ${limit} items: send them in smaller batches`,
        };
      }
      return {
        status: 413,
        code: 'batch_too_large',
        detail: `${where} has more than ${limits.maxBatch} texts (MAX_BATCH): send the batch in smaller parts`,
      };
    case 'minLength':
      return {
        status: 400,
        code: predictText ? 'empty_text' : 'empty_value',
        detail: `${where} is empty: send a non-empty ${predictText ? 'text' : 'value'}`,
      };
    case 'minItems':
      return {
        status: 400,
        code: 'empty_batch',
        detail: `${where} is empty: send at least one ${predictText ? 'text' : 'item'}`,
      };
    case 'pattern':
      if (predictText) {
        return {
          status: 400,
          code: 'empty_text',
          detail: `${where} has no visible characters (only white space, zero-width or other invisible characters): send a text with something to classify`,
        };
      }
      return {
        status: 400,
        code: 'invalid_format',
        detail: `${where} has characters or a length that is not allowed (1 to 128 of A-Z a-z 0-9 . _ : @ / + = -): send the request_id exactly as POST /predict returned it`,
      };
    case 'additionalProperties':
      return {
        status: 400,
        code: 'unknown_field',
        detail: `${where} has an unknown field ${JSON.stringify(issue.params.additionalProperty)}: remove it (see /docs for the fields)`,
      };
    case 'minimum':
    case 'maximum':
      return {
        status: 400,
        code: 'out_of_range',
        detail: `${where} must be ${issue.keyword === 'minimum' ? 'at least' : 'at most'} ${limit}`,
      };
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
export function toErrorResponse(
  err: FastifyError,
  limits: Limits,
  context?: ErrorContext,
): { status: number; body: ErrorBody } {
  if (err instanceof HttpError) return { status: err.statusCode, body: { error: err.code, detail: err.message } };
  if (err.validation && err.validation.length > 0) {
    const issues = err.validation as ValidationIssue[];
    const oneOf = issues.find((i) => i.keyword === 'oneOf' && i.instancePath === '');
    const { status, code, detail } = oneOf ? describeOneOf(oneOf, context) : describeValidation(issues[0], limits);
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
        body: {
          error: 'invalid_content_length',
          detail: 'Content-Length does not match the body sent: send the exact byte length of the body',
        },
      };
    case 'ERR_BODY_ENCODING':
      return {
        status: 400,
        body: {
          error: 'malformed_encoding',
          detail: `the body could not be decoded with its Content-Encoding (${(err as { zlibCode?: string }).zlibCode ?? 'corrupt data'}): send it uncompressed or validly compressed`,
        },
      };
  }
  if (err instanceof SyntaxError && err.statusCode === 400) {
    // JSON.parse failures from a parser other than parseJsonBody (none today; kept as the safe default).
    return {
      status: 400,
      body: { error: 'malformed_json', detail: `the request body is not valid JSON: ${err.message}` },
    };
  }
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    return { status, body: { error: 'bad_request', detail: shorten(err.message, 300) } };
  }
  return {
    status: 500,
    body: {
      error: 'internal_error',
      detail: 'an unexpected error occurred; it was logged with this request id — report it if it persists',
    },
  };
}

/**
 * The JSON body parser. A `__proto__` or `constructor.prototype` key is refused as an unknown field —
 * like any other field the API does not define, never silently dropped — rather than as bad JSON.
 */
export function parseJsonBody(
  _request: FastifyRequest,
  body: string | Buffer,
  done: (err: Error | null, value?: unknown) => void,
): void {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (text.length === 0) {
    done(new HttpError(400, 'empty_body', 'the request body is empty: send a JSON object such as {"text": "..."}'));
    return;
  }
  try {
    done(null, secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }));
  } catch (err) {
    if (/forbidden (prototype|constructor) property/.test((err as Error).message)) {
      done(
        new HttpError(
          400,
          'unknown_field',
          'the body has a "__proto__" or "constructor.prototype" key, which no request accepts: remove it (see /docs for the fields)',
        ),
      );
      return;
    }
    done(
      new HttpError(
        400,
        'malformed_json',
        `the request body is not valid JSON (${shorten((err as Error).message, 120)}): send a JSON object such as {"text": "..."}`,
      ),
    );
  }
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
