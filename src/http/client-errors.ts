// Answers for requests that never reach Fastify's routing: Node's HTTP parser rejects them (bad
// chunking, CR/LF inside a header, a duplicate Content-Length, headers past the size limit, a request
// that took too long) or they use CONNECT, which Node hands to a separate event. Without this the client
// gets Fastify's own body (another shape) or, for CONNECT, a closed connection. Each answer is a raw
// HTTP/1.1 response with the documented JSON error, a generated request id, and `Connection: close`
// (after a parse error the byte stream cannot be trusted, so the connection is not reused).

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

export type RawErrorAnswer = { status: number; error: string; detail: string };

export type ClientErrorHooks = {
  requestId(): string;
  /** Called once per answer written (for metrics and the access log). */
  answered(method: string, status: number, requestId: string): void;
};

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Content Too Large',
  414: 'URI Too Long',
  431: 'Request Header Fields Too Large',
};

/** What a parser error means for the client, in the service's error vocabulary. */
export function describeClientError(err: NodeJS.ErrnoException): RawErrorAnswer {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        error: 'headers_too_large',
        detail: 'the request headers are larger than the server accepts (16 KiB): send fewer or shorter headers',
      };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return {
        status: 408,
        error: 'request_timeout',
        detail: 'the request was not received completely in time: send the whole request promptly',
      };
    case 'HPE_INVALID_CHUNK_SIZE':
    case 'HPE_INVALID_TRANSFER_ENCODING':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return {
        status: 400,
        error: 'malformed_request',
        detail: `the request body framing is not valid HTTP/1.1 (${err.code}): send either one Content-Length or valid chunked encoding`,
      };
    case 'HPE_INVALID_HEADER_TOKEN':
    case 'HPE_LF_EXPECTED':
    case 'HPE_CR_EXPECTED':
    case 'HPE_INVALID_CONSTANT':
      return {
        status: 400,
        error: 'malformed_request',
        detail: `a request header is not valid HTTP/1.1 (${err.code}): header names and values must not contain CR, LF or control characters`,
      };
    default:
      return {
        status: 400,
        error: 'malformed_request',
        detail: `the request is not valid HTTP/1.1 (${typeof err.code === 'string' ? err.code : 'parse error'}): check the client or proxy that sent it`,
      };
  }
}

export function rawErrorResponse(answer: RawErrorAnswer, requestId: string, extraHeaders = ''): string {
  const body = JSON.stringify({ error: answer.error, detail: answer.detail, request_id: requestId });
  return (
    `HTTP/1.1 ${answer.status} ${REASONS[answer.status] ?? 'Error'}\r\n` +
    'Content-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    `X-Request-Id: ${requestId}\r\n` +
    extraHeaders +
    'Connection: close\r\n\r\n' +
    body
  );
}

/** Fastify's `clientErrorHandler`: a JSON answer instead of Fastify's own body, then close. */
export function createClientErrorHandler(hooks: ClientErrorHooks): (err: Error, socket: Duplex) => void {
  return (err, socket) => {
    const e = err as NodeJS.ErrnoException;
    // A reset connection has nobody to answer; a socket already written to cannot take a second answer.
    if (e.code === 'ECONNRESET' || socket.destroyed) return;
    if (socket.writable && !(socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) {
      const answer = describeClientError(e);
      const id = hooks.requestId();
      socket.end(rawErrorResponse(answer, id));
      hooks.answered('UNKNOWN', answer.status, id);
    }
    socket.destroy();
  };
}

/** The server's 'connect' listener: CONNECT is not served (this is not a proxy), 405 in the usual shape. */
export function createConnectHandler(
  hooks: ClientErrorHooks,
): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (_req, socket) => {
    const id = hooks.requestId();
    socket.on('error', () => {});
    socket.end(
      rawErrorResponse(
        {
          status: 405,
          error: 'method_not_allowed',
          detail: 'CONNECT is not supported: this service is not a proxy; see /docs for the API',
        },
        id,
        'Allow: GET, HEAD, POST\r\n',
      ),
    );
    hooks.answered('CONNECT', 405, id);
  };
}
