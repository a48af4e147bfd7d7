// A small client for the MLflow tracking server's REST API, on plain `fetch` (no MLflow SDK: the
// service needs a dozen calls, and the SDK is Python). It does what MLflow's own client does about
// auth (MLFLOW_TRACKING_USERNAME/PASSWORD → Basic, else MLFLOW_TRACKING_TOKEN → Bearer), bounds every
// request with a timeout, and retries network errors, 429 and 5xx with exponential backoff and full
// jitter. Credentials never appear in an error message or a log line: messages name the server by
// `location`, the tracking URI without any user:pass@.

export type MlflowClientOptions = {
  trackingUri: string;
  token?: string;
  username?: string;
  password?: string;
  /** Per attempt. */
  timeoutMs?: number;
  /** Attempts per request for retryable failures (network, timeout, 429, 5xx). */
  attempts?: number;
  /** First backoff; doubles per attempt, with full jitter. */
  backoffMs?: number;
  fetch?: typeof fetch;
};

export type MlflowClient = {
  /** The tracking URI without credentials, for messages. */
  readonly location: string;
  /** JSON call under /api/2.0/mlflow/… (`path` without that prefix). */
  call<T = Record<string, unknown>>(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    path: string,
    params?: Record<string, unknown>,
  ): Promise<T>;
  /** Raw request against any path of the server (artifact download/upload). */
  raw(method: 'GET' | 'PUT', path: string, body?: Uint8Array): Promise<Response>;
};

/**
 * Why a call failed, in terms a user can act on. `kind`:
 *  - unreachable: network error, timeout, 429 or 5xx after the retries (the cache may stand in);
 *  - auth: 401/403 (set the credentials, or --allowed-hosts on the server);
 *  - not_found: 404 RESOURCE_DOES_NOT_EXIST, or 400 INVALID_PARAMETER_VALUE for an unknown alias;
 *  - other: any other 4xx, or a response that is not what MLflow sends.
 */
export class MlflowError extends Error {
  readonly kind: 'unreachable' | 'auth' | 'not_found' | 'other';
  readonly status: number | undefined;
  readonly errorCode: string | undefined;
  constructor(
    kind: MlflowError['kind'],
    message: string,
    extra: { status?: number; errorCode?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: extra.cause });
    this.name = 'MlflowError';
    this.kind = kind;
    this.status = extra.status;
    this.errorCode = extra.errorCode;
  }
}

/** The tracking URI split into a base URL without credentials, and any user:pass it carried. */
export function parseTrackingUri(uri: string): { base: URL; location: string; username?: string; password?: string } {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new MlflowError(
      'other',
      `MLFLOW_TRACKING_URI is not a URL: set it to the tracking server's address, such as http://mlflow:5000`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new MlflowError(
      'other',
      `MLFLOW_TRACKING_URI must be an http:// or https:// address of an MLflow tracking server (got ${url.protocol}//…)`,
    );
  }
  const username = url.username ? decodeURIComponent(url.username) : undefined;
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  url.username = '';
  url.password = '';
  url.search = '';
  url.hash = '';
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return { base: url, location: url.href.replace(/\/$/, ''), username, password };
}

/** Removes user:pass@ from any URL inside a text (for messages that quote a URI). */
export function redactUrls(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/\s@]*@/gi, '$1');
}

/** The Authorization header MLflow's Python client would send for these settings. */
export function authorizationHeader(opts: {
  token?: string;
  username?: string;
  password?: string;
}): string | undefined {
  if (opts.username !== undefined && opts.username !== '') {
    return `Basic ${Buffer.from(`${opts.username}:${opts.password ?? ''}`, 'utf8').toString('base64')}`;
  }
  if (opts.token !== undefined && opts.token !== '') return `Bearer ${opts.token}`;
  return undefined;
}

/** Full-jitter exponential backoff: a random wait in [0, base·2^attempt), at most 10 s. */
export function backoffDelay(attempt: number, baseMs: number, random = Math.random): number {
  return Math.floor(random() * Math.min(10_000, baseMs * 2 ** attempt));
}

const retryableStatus = (status: number) => status === 429 || status >= 500;

export function createMlflowClient(opts: MlflowClientOptions): MlflowClient {
  const { base, location, username, password } = parseTrackingUri(opts.trackingUri);
  const auth = authorizationHeader({
    token: opts.token,
    username: opts.username ?? username,
    password: opts.password ?? password,
  });
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const attempts = Math.max(1, opts.attempts ?? 4);
  const backoffMs = opts.backoffMs ?? 250;
  const doFetch = opts.fetch ?? fetch;
  const credentialsGiven = auth !== undefined;

  async function request(
    method: string,
    path: string,
    body?: string | Uint8Array,
    contentType?: string,
  ): Promise<Response> {
    const url = new URL(path.replace(/^\//, ''), base);
    const what = `${method} ${location}/${path.replace(/^\//, '').split('?')[0]}`;
    const headers: Record<string, string> = {};
    if (auth) headers.authorization = auth;
    if (contentType) headers['content-type'] = contentType;
    let last: MlflowError | undefined;
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, backoffDelay(attempt, backoffMs)));
      let res: Response;
      try {
        res = await doFetch(url, { method, headers, body, signal: AbortSignal.timeout(timeoutMs) });
      } catch (err) {
        const e = err as Error & { cause?: { code?: string; message?: string } };
        const detail =
          e.name === 'TimeoutError'
            ? `no answer within ${timeoutMs} ms`
            : (e.cause?.code ?? e.cause?.message ?? e.message ?? String(err));
        last = new MlflowError(
          'unreachable',
          `MLflow tracking server ${location} is unreachable (${what}: ${redactUrls(detail)}); check MLFLOW_TRACKING_URI and that the server is up`,
          { cause: err },
        );
        continue;
      }
      if (retryableStatus(res.status)) {
        await res.body?.cancel();
        last = new MlflowError(
          'unreachable',
          `MLflow tracking server ${location} answered ${res.status} to ${what}; it is overloaded or failing`,
          { status: res.status },
        );
        continue;
      }
      if (res.status === 401 || res.status === 403) {
        const text = await res.text().catch(() => '');
        if (res.status === 403 && /invalid host header/i.test(text)) {
          throw new MlflowError(
            'auth',
            `MLflow tracking server ${location} refused the Host header "${url.host}" (403 Invalid Host header): start it with --allowed-hosts ${url.host} (or reach it by an address it allows)`,
            { status: 403 },
          );
        }
        throw new MlflowError(
          'auth',
          res.status === 401
            ? `MLflow tracking server ${location} needs credentials (401 on ${what}): ${credentialsGiven ? 'the ones given were refused; check' : 'set'} MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (basic auth) or MLFLOW_TRACKING_TOKEN (bearer token)`
            : `MLflow tracking server ${location} denied ${what} (403): give the user of MLFLOW_TRACKING_USERNAME (or MLFLOW_TRACKING_TOKEN) read permission on the model, or use other credentials`,
          { status: res.status },
        );
      }
      return res;
    }
    throw last as MlflowError;
  }

  return {
    location,
    async call<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, params: Record<string, unknown> = {}) {
      let rel = `api/2.0/mlflow/${path}`;
      let body: string | undefined;
      if (method === 'GET') {
        const q = new URLSearchParams();
        for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
        const qs = q.toString();
        if (qs) rel += `?${qs}`;
      } else {
        body = JSON.stringify(params);
      }
      const res = await request(method, rel, body, body === undefined ? undefined : 'application/json');
      const text = await res.text();
      let json: Record<string, unknown> = {};
      try {
        json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch {
        throw new MlflowError(
          'other',
          `MLflow tracking server ${location} answered ${res.status} to ${method} ${path} with something that is not JSON: is MLFLOW_TRACKING_URI the tracking server (not its UI behind a proxy)?`,
          { status: res.status },
        );
      }
      if (!res.ok) {
        const errorCode = typeof json.error_code === 'string' ? json.error_code : undefined;
        const message = typeof json.message === 'string' ? json.message : text.slice(0, 300);
        const kind = res.status === 404 || errorCode === 'RESOURCE_DOES_NOT_EXIST' ? 'not_found' : 'other';
        throw new MlflowError(
          kind,
          `${method} ${path}: ${res.status} ${errorCode ?? ''} ${redactUrls(message)}`.trim(),
          {
            status: res.status,
            errorCode,
          },
        );
      }
      return json as T;
    },
    raw(method: 'GET' | 'PUT', path: string, body?: Uint8Array) {
      return request(method, path, body, body ? 'application/octet-stream' : undefined);
    },
  };
}
