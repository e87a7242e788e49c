/**
 * Requests to one API server over node:https keep-alive connections: JSON in, JSON out, and
 * watches as a stream of events. This is all the long-running commands need of an API client, and
 * it is a fraction of client-node's weight (kubeconfig.ts says why that matters).
 *
 * - One connection pool per kubeconfig object (connectionOf): every write, list page and status
 *   read to that server reuses the same keep-alive TLS connections; a watch holds one while it
 *   streams.
 * - Authentication headers are computed at most every AUTH_REUSE_MS, so a rotated token (a file,
 *   or users replaced by followKubeConfigFile) is picked up within that. The TLS material (CA,
 *   client certificate) is read once: a rotated client certificate needs a restart.
 * - Exec credential plugins and auth providers are handed to client-node, loaded only for such a
 *   user; an HTTP proxy (`proxy-url`) is refused with a clear message.
 * - A non-2xx answer throws KubeApiError with the status `code` and the server's body.
 * - A request on a reused keep-alive socket that the server had just closed is sent once more on
 *   a fresh connection (Node's documented race); every request is bounded in time.
 */
import { readFileSync } from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import type { KubeCluster, KubeConfig, KubeUser } from './kubeconfig.ts';

/** An error answer of the API server: `code` is the HTTP status, `body` its parsed Status (or text). */
export class KubeApiError extends Error {
  override name = 'KubeApiError';
  readonly code: number;
  readonly body: unknown;
  constructor(code: number, message: string, body: unknown) {
    super(message);
    this.code = code;
    this.body = body;
  }
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  /** Serialized as JSON. */
  body?: unknown;
  contentType?: string;
  timeoutMs: number;
}

export interface WatchHandlers {
  /** One event of the stream: `type` is ADDED, MODIFIED, DELETED, BOOKMARK or ERROR. */
  onEvent(type: string, object: Record<string, unknown>): void;
  /** Called once, when the stream ends (err undefined: a clean end) or fails; also after abort(). */
  onDone(err?: unknown): void;
}

export interface WatchOptions {
  /** The stream fails when nothing (not even a bookmark) arrives for this long. */
  idleTimeoutMs?: number;
}

/**
 * How long one computation of the user's authentication headers is reused. The kubelet refreshes
 * projected tokens minutes before they expire, so reading them at most this often loses nothing.
 */
const AUTH_REUSE_MS = 10_000;

export class ApiConnection {
  private readonly base: URL;
  private readonly transport: typeof https | typeof http;
  private agent: http.Agent | undefined;
  private auth: { headers: Record<string, string>; at: number } | undefined;
  private readonly kc: KubeConfig;
  private readonly authReuseMs: number;
  private readonly hostname: string;
  private readonly port: string;
  private readonly basePath: string;

  /** `authReuseMs`: how long computed authentication headers are reused (default AUTH_REUSE_MS). */
  constructor(kc: KubeConfig, options: { authReuseMs?: number } = {}) {
    this.kc = kc;
    this.authReuseMs = options.authReuseMs ?? AUTH_REUSE_MS;
    const cluster = kc.getCurrentCluster();
    if (cluster === null) throw new Error('the kubeconfig has no current cluster');
    if (cluster.proxyUrl) throw new Error(`cluster ${cluster.name}: proxy-url is not supported; reach the API server directly`);
    this.base = new URL(cluster.server);
    if (this.base.protocol !== 'https:' && this.base.protocol !== 'http:') throw new Error(`cluster ${cluster.name}: server ${cluster.server} is neither https:// nor http://`);
    this.transport = this.base.protocol === 'https:' ? https : http;
    // An IPv6 literal comes bracketed from URL; node:http wants it bare.
    this.hostname = this.base.hostname.replace(/^\[(.*)\]$/, '$1');
    this.port = this.base.port;
    this.basePath = this.base.pathname.replace(/\/$/, '');
  }

  get server(): string {
    return this.base.origin + this.base.pathname.replace(/\/$/, '');
  }

  /** A request whose JSON answer is returned as parsed; non-2xx throws KubeApiError. */
  async request(method: string, path: string, options: RequestOptions): Promise<unknown> {
    const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    const headers: Record<string, string> = { ...(await this.authHeaders()), Accept: 'application/json' };
    if (payload !== undefined) {
      headers['Content-Type'] = options.contentType ?? 'application/json';
      headers['Content-Length'] = String(payload.length);
    }
    const what = `${method} ${path}`;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.send(method, this.target(path, options.query), headers, payload, options.timeoutMs, what);
      } catch (err) {
        // The server closed an idle keep-alive connection as we reused it: nothing was processed.
        if (attempt === 0 && err instanceof StaleSocket) continue;
        throw err instanceof StaleSocket ? err.cause : err;
      }
    }
  }

  /** A GET returning the parsed JSON object. */
  async get(path: string, query: Query, timeoutMs: number): Promise<unknown> {
    return this.request('GET', path, { query, timeoutMs });
  }

  /** Starts a watch; returns its abort (after which onDone is called, once). */
  async watch(path: string, query: Query, handlers: WatchHandlers, options: WatchOptions = {}): Promise<() => void> {
    const idleMs = options.idleTimeoutMs ?? 40_000;
    let done = false;
    let idle: NodeJS.Timeout | undefined;
    let req: http.ClientRequest | undefined;
    const finish = (err?: unknown): void => {
      if (done) return;
      done = true;
      if (idle !== undefined) clearTimeout(idle);
      req?.destroy();
      handlers.onDone(err);
    };
    const touch = (): void => {
      if (idle !== undefined) clearTimeout(idle);
      idle = setTimeout(() => finish(new Error(`watch ${path}: nothing received for ${idleMs} ms`)), idleMs);
      idle.unref();
    };
    let headers: Record<string, string>;
    try {
      headers = { ...(await this.authHeaders()), Accept: 'application/json' };
    } catch (err) {
      finish(err);
      return () => undefined;
    }
    touch();
    req = this.transport.request({ ...this.target(path, { ...query, watch: 'true' }), method: 'GET', headers, agent: this.tlsAgent() }, (res) => {
      if (res.statusCode !== 200) {
        readBody(res).then(
          (text) => finish(apiError(res.statusCode ?? 0, `watch ${path}`, text)),
          (err: unknown) => finish(err),
        );
        return;
      }
      touch();
      res.setEncoding('utf8');
      let pending = '';
      res.on('data', (chunk: string) => {
        touch();
        pending += chunk;
        let newline: number;
        while (!done && (newline = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, newline);
          pending = pending.slice(newline + 1);
          if (line.trim() === '') continue;
          let event: { type?: unknown; object?: unknown };
          try {
            event = JSON.parse(line) as typeof event;
          } catch {
            finish(new Error(`watch ${path}: an event that is not JSON`));
            return;
          }
          if (typeof event.type === 'string' && event.object !== null && typeof event.object === 'object') handlers.onEvent(event.type, event.object as Record<string, unknown>);
        }
      });
      res.on('end', () => finish());
      res.on('error', (err) => finish(err));
      res.on('close', () => finish());
    });
    req.on('error', (err) => finish(err));
    req.end();
    return () => finish();
  }

  /**
   * Request options for `path` with `query`: host, port and path as strings (a URL object per
   * request, parsed and turned back into options by node:http, was a measurable share of an
   * agent's CPU in a burst of writes).
   */
  private target(path: string, query: Query | undefined): https.RequestOptions {
    let search = '';
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value !== undefined) search += `${search === '' ? '?' : '&'}${encodeURIComponent(name)}=${encodeURIComponent(String(value))}`;
    }
    return { protocol: this.base.protocol, hostname: this.hostname, port: this.port, path: this.basePath + path + search };
  }

  private send(method: string, target: https.RequestOptions, headers: Record<string, string>, payload: Buffer | undefined, timeoutMs: number, what: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn();
      };
      const req = this.transport.request({ ...target, method, headers, agent: this.tlsAgent() }, (res) => {
        readBody(res).then(
          (text) =>
            settle(() => {
              const status = res.statusCode ?? 0;
              if (status < 200 || status > 299) return reject(apiError(status, what, text));
              if (text === '') return resolve({});
              try {
                resolve(JSON.parse(text));
              } catch {
                reject(new Error(`${what}: the API server answered ${status} with a body that is not JSON`));
              }
            }),
          (err: unknown) => settle(() => reject(err)),
        );
      });
      const timer = setTimeout(() => {
        settle(() => reject(new RequestTimeoutError(`${what}: no answer within ${timeoutMs} ms`)));
        req.destroy();
      }, timeoutMs);
      req.on('error', (err: NodeJS.ErrnoException) => {
        const stale = req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE');
        settle(() => reject(stale ? new StaleSocket(err) : err));
      });
      req.end(payload);
    });
  }

  private tlsAgent(): http.Agent {
    if (this.agent !== undefined) return this.agent;
    const cluster = this.kc.getCurrentCluster() as KubeCluster;
    const user = this.kc.getCurrentUser();
    const options: https.AgentOptions = { keepAlive: true, keepAliveMsecs: 30_000, maxFreeSockets: 64, scheduling: 'lifo' };
    if (this.base.protocol === 'https:') {
      const ca = fileOrData(cluster.caFile, cluster.caData);
      const cert = fileOrData(user?.certFile, user?.certData);
      const key = fileOrData(user?.keyFile, user?.keyData);
      // One secure context for every connection: given as ca/cert/key, each new TLS socket would
      // parse the CA bundle into a store of its own, and the agent would fold the PEM text into
      // its pool key on every request.
      options.secureContext = tls.createSecureContext({ ...(ca === undefined ? {} : { ca }), ...(cert === undefined ? {} : { cert }), ...(key === undefined ? {} : { key }) });
      if (cluster.skipTLSVerify) options.rejectUnauthorized = false;
      if (cluster.tlsServerName) options.servername = cluster.tlsServerName;
    }
    this.agent = this.base.protocol === 'https:' ? new https.Agent(options) : new http.Agent(options);
    return this.agent;
  }

  /** The user's authentication headers, computed at most every `authReuseMs`. */
  private async authHeaders(): Promise<Record<string, string>> {
    const now = Date.now();
    if (this.auth !== undefined && now - this.auth.at < this.authReuseMs && now >= this.auth.at) return this.auth.headers;
    const user = this.kc.getCurrentUser();
    const headers = user === null ? {} : await headersOf(user, this.kc);
    this.auth = { headers, at: now };
    return headers;
  }
}

/** A request failed on a keep-alive socket the server had closed; `cause` is the socket error. */
class StaleSocket extends Error {
  override readonly cause: Error;
  constructor(cause: Error) {
    super(cause.message);
    this.cause = cause;
  }
}

/** No answer within the request's bound (the writer's gate treats it as overload). */
export class RequestTimeoutError extends Error {
  override name = 'RequestTimeoutError';
}

async function headersOf(user: KubeUser, kc: KubeConfig): Promise<Record<string, string>> {
  const headers: Record<string, string> = {};
  const provider = user.authProvider as { name?: string; config?: { tokenFile?: string } } | undefined | null;
  if (user.exec || (provider && provider.name !== 'tokenFile')) {
    Object.assign(headers, await pluginHeaders(kc));
  } else {
    const tokenFile = user.tokenFile ?? provider?.config?.tokenFile;
    const token = tokenFile ? readFileSync(tokenFile, 'utf8').trim() : user.token;
    if (token) headers['Authorization'] = `Bearer ${token}`;
    else if (user.username) headers['Authorization'] = `Basic ${Buffer.from(`${user.username}:${user.password ?? ''}`).toString('base64')}`;
  }
  if (user.impersonateUser) headers['Impersonate-User'] = user.impersonateUser;
  return headers;
}

/**
 * Headers from an exec plugin or auth provider, as client-node computes them: typed-api.ts (and
 * client-node with it) is loaded only here, for such a user.
 */
async function pluginHeaders(kc: KubeConfig): Promise<Record<string, string>> {
  const { clientNodeConfig } = await import('./typed-api.ts');
  const options: { headers?: Record<string, string | number | string[]> } = {};
  await clientNodeConfig(kc).applyToHTTPSOptions(options as never);
  return Object.fromEntries(Object.entries(options.headers ?? {}).map(([k, v]) => [k, String(v)]));
}

function fileOrData(file: string | null | undefined, data: string | null | undefined): Buffer | undefined {
  if (file) return readFileSync(file);
  if (data) return Buffer.from(data, 'base64');
  return undefined;
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
    res.on('aborted', () => reject(new Error('the API server closed the connection mid-answer')));
  });
}

function apiError(status: number, what: string, text: string): KubeApiError {
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (a proxy's error page, say): keep the text for the message.
  }
  const message = (body as { message?: unknown } | null)?.message;
  return new KubeApiError(status, `${what}: HTTP ${status}${typeof message === 'string' && message !== '' ? `: ${message}` : ''}`, body);
}

const connections = new WeakMap<KubeConfig, ApiConnection>();

/** The one connection (pool) of `kc`, made on first use. */
export function connectionOf(kc: KubeConfig): ApiConnection {
  let connection = connections.get(kc);
  if (connection === undefined) connections.set(kc, (connection = new ApiConnection(kc)));
  return connection;
}
