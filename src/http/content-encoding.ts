// Request bodies sent with `Content-Encoding`: gzip and deflate are decoded (the decoded size counts
// against MAX_BODY_BYTES, so a small "zip bomb" cannot expand past the limit), any other encoding is
// answered 415 — the header is never ignored, which would hand compressed bytes to the JSON parser.

import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { createGunzip, createInflate, type Gunzip, type Inflate } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { HttpError } from './errors.ts';

type Decoder = (Gunzip | Inflate) & { receivedEncodedLength?: number };

function decoderFor(encoding: string): Decoder | undefined {
  switch (encoding) {
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    default:
      return undefined;
  }
}

function hasBody(raw: IncomingMessage): boolean {
  const length = raw.headers['content-length'];
  return raw.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

export function decodeContentEncoding(app: FastifyInstance, limit: number): void {
  app.addHook('preParsing', (request, _reply, payload, done) => {
    const header = request.headers['content-encoding'];
    if (header === undefined || !hasBody(request.raw)) return done(null, payload);
    const encoding = header.trim().toLowerCase();
    if (encoding === '' || encoding === 'identity') return done(null, payload);
    const decoder = decoderFor(encoding);
    if (decoder === undefined) {
      return done(
        new HttpError(
          415,
          'unsupported_content_encoding',
          `Content-Encoding ${JSON.stringify(header.slice(0, 40))} is not supported: send the body uncompressed, or with Content-Encoding gzip or deflate`,
        ),
      );
    }
    const source = payload as Readable;
    decoder.receivedEncodedLength = 0;
    let decoded = 0;
    source.on('data', (chunk: Buffer) => {
      decoder.receivedEncodedLength = (decoder.receivedEncodedLength ?? 0) + chunk.length;
    });
    decoder.on('data', (chunk: Buffer) => {
      decoded += chunk.length;
      // Stop inflating at once: the parser stops listening past the limit, but zlib would go on.
      if (decoded > limit) {
        source.unpipe(decoder);
        source.resume();
        decoder.destroy(
          Object.assign(new Error('decoded body too large'), { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' }),
        );
      }
    });
    decoder.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code?.startsWith('Z_'))
        Object.assign(err, { statusCode: 400, code: 'ERR_BODY_ENCODING', zlibCode: err.code });
    });
    source.pipe(decoder);
    done(null, decoder);
  });
}
