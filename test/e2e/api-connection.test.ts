/**
 * The lean API client of the long-running commands (src/kube/api-connection.ts, kubeconfig.ts)
 * against a local HTTPS server that records what it is sent: the credentials of each kind of
 * kubeconfig reach the server (token, rotated token file, exec plugin, in-cluster), error answers
 * become KubeApiErrors with their status, watches deliver events split across chunks and end
 * exactly once (cleanly, on an error answer, on silence, on abort), a keep-alive connection the
 * server dropped is retried once on a new one, and a request with no answer is bounded.
 */
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiConnection, KubeApiError, RequestTimeoutError } from '../../src/kube/api-connection.ts';
import { statusCodeOf } from '../../src/kube/client.ts';
import { LeanKubeConfig } from '../../src/kube/kubeconfig.ts';
import { createServingPki } from '../harness/certs.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let dir: string;
let caPath: string;
let server: Server;
let port: number;
let handler: Handler;
let connections = 0;
const seen: { method: string; url: string; authorization: string | undefined; contentType: string | undefined; body: string }[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'api-connection-'));
  const pki = await createServingPki(dir);
  caPath = pki.caCert;
  server = createServer({ cert: readFileSync(pki.cert), key: readFileSync(pki.key) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization, contentType: req.headers['content-type'], body: Buffer.concat(chunks).toString() });
      handler(req, res);
    });
  });
  server.on('secureConnection', () => (connections += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

function reset(next: Handler): void {
  seen.length = 0;
  connections = 0;
  handler = next;
}

const json = (status: number, body: unknown): Handler => (_req, res) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

/** A kubeconfig file in `dir` (relative CA path, as kubectl allows) with the given user entry. */
function kubeconfigFile(name: string, user: string[]): LeanKubeConfig {
  const path = join(dir, `${name}.kubeconfig`);
  writeFileSync(
    path,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '  - name: fake',
      '    cluster:',
      `      server: https://127.0.0.1:${port}/`,
      '      certificate-authority: ca.crt',
      'users:',
      '  - name: u',
      '    user:',
      ...user.map((l) => `      ${l}`),
      'contexts:',
      '  - name: fake',
      '    context: { cluster: fake, user: u }',
      'current-context: fake',
      '',
    ].join('\n'),
  );
  const kc = new LeanKubeConfig();
  kc.loadFromFile(path);
  return kc;
}

describe('credentials reach the API server', () => {
  it('a bearer token, over TLS verified against the kubeconfig CA (a relative path)', async () => {
    reset(json(200, { kind: 'List', items: [] }));
    const api = new ApiConnection(kubeconfigFile('token', ['token: t0ken']));
    expect(await api.get('/apis/x/v1/things', { limit: 500, continue: undefined }, 5_000)).toEqual({ kind: 'List', items: [] });
    expect(seen).toMatchObject([{ method: 'GET', url: '/apis/x/v1/things?limit=500', authorization: 'Bearer t0ken' }]);
  });

  it('a token file is read again once the headers are older than their reuse time (a rotated token)', async () => {
    reset(json(200, {}));
    const tokenFile = join(dir, 'rotating-token');
    writeFileSync(tokenFile, 'first\n');
    const api = new ApiConnection(kubeconfigFile('token-file', [`tokenFile: ${tokenFile}`]), { authReuseMs: 0 });
    await api.get('/version', {}, 5_000);
    writeFileSync(tokenFile, 'second\n');
    await new Promise((r) => setTimeout(r, 5));
    await api.get('/version', {}, 5_000);
    expect(seen.map((s) => s.authorization)).toEqual(['Bearer first', 'Bearer second']);
  });

  it('an exec credential plugin is run (through client-node) and its token sent', async () => {
    reset(json(200, {}));
    const credential = JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: 'from-exec' } });
    const api = new ApiConnection(
      kubeconfigFile('exec', [
        'exec:',
        '  apiVersion: client.authentication.k8s.io/v1',
        `  command: ${JSON.stringify(process.execPath)}`,
        `  args: ["-e", ${JSON.stringify(`process.stdout.write(${JSON.stringify(credential)})`)}]`,
        '  interactiveMode: Never',
      ]),
    );
    await api.get('/version', {}, 10_000);
    expect(seen[0]?.authorization).toBe('Bearer from-exec');
  });

  it('a client certificate (mutual TLS), through the one secure context every connection shares', async () => {
    // A client certificate from the same CA, and a server that requires one.
    const run = (args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    writeFileSync(join(dir, 'client.ext'), 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n');
    run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=agent-east/O=clusterset-dns']);
    run(['x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.crt', '-days', '1', '-extfile', 'client.ext']);
    const pki = { cert: readFileSync(join(dir, 'serving.crt')), key: readFileSync(join(dir, 'serving.key')), ca: readFileSync(caPath) };
    const subjects: string[] = [];
    const mtls = createServer({ ...pki, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      subjects.push(String((req.socket as TLSSocket).getPeerCertificate().subject?.CN));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ query: new URL(req.url ?? '/', 'https://x').searchParams.get('labelSelector') }));
    });
    await new Promise<void>((resolve) => mtls.listen(0, '127.0.0.1', resolve));
    try {
      const file = join(dir, 'mtls.kubeconfig');
      const mtlsPort = (mtls.address() as { port: number }).port;
      writeFileSync(file, [
        'apiVersion: v1', 'kind: Config',
        'clusters:', '  - name: m', '    cluster:', `      server: https://127.0.0.1:${mtlsPort}`, '      certificate-authority: ca.crt',
        'users:', '  - name: u', '    user:', '      client-certificate: client.crt', '      client-key: client.key',
        'contexts:', '  - name: m', '    context: { cluster: m, user: u }', 'current-context: m', '',
      ].join('\n'));
      const kc = new LeanKubeConfig();
      kc.loadFromFile(file);
      const api = new ApiConnection(kc);
      // Two requests at once: two connections, both presenting the certificate; the query arrives as sent.
      const selector = 'app!=web,tier in (a b),x=y&z';
      const answers = await Promise.all([api.get('/api/v1/pods', { labelSelector: selector }, 5_000), api.get('/api/v1/pods', { labelSelector: selector }, 5_000)]);
      expect(answers).toEqual([{ query: selector }, { query: selector }]);
      expect(subjects).toEqual(['agent-east', 'agent-east']);
    } finally {
      mtls.closeAllConnections();
      await new Promise<void>((resolve) => mtls.close(() => resolve()));
    }
  });

  it("a pod's service account: host and port from the environment, CA and token from the mount", async () => {
    reset(json(200, {}));
    const mount = mkdtempSync(join(dir, 'sa-'));
    writeFileSync(join(mount, 'ca.crt'), readFileSync(caPath));
    writeFileSync(join(mount, 'token'), 'sa-token');
    writeFileSync(join(mount, 'namespace'), 'clusterset-dns');
    const kc = new LeanKubeConfig();
    kc.loadFromCluster({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(port) }, mount);
    expect(kc.contexts[0]?.namespace).toBe('clusterset-dns');
    await new ApiConnection(kc).get('/version', {}, 5_000);
    expect(seen[0]?.authorization).toBe('Bearer sa-token');
  });

  it('a kubeconfig with an HTTP proxy is refused with a message saying so', () => {
    const kc = new LeanKubeConfig();
    kc.loadFromString(
      `clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", proxy-url: "http://proxy:3128"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n`,
    );
    expect(() => new ApiConnection(kc)).toThrow(/proxy-url is not supported/);
  });
});

describe('answers', () => {
  it("an error answer throws KubeApiError with the status and the server's message", async () => {
    reset(json(404, { kind: 'Status', code: 404, reason: 'NotFound', message: 'serviceimports "x" not found' }));
    const api = new ApiConnection(kubeconfigFile('errors', ['token: t']));
    const err = await api.request('PATCH', '/apis/x/v1/namespaces/a/things/x', { body: { a: 1 }, contentType: 'application/apply-patch+yaml', timeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect(statusCodeOf(err)).toBe(404);
    expect((err as Error).message).toBe('PATCH /apis/x/v1/namespaces/a/things/x: HTTP 404: serviceimports "x" not found');
    expect(seen[0]).toMatchObject({ contentType: 'application/apply-patch+yaml', body: '{"a":1}' });
  });

  it('a keep-alive connection the server dropped is retried once on a new connection', async () => {
    let served = 0;
    reset((req, res) => {
      served += 1;
      // The second request arrives on the first one's kept-alive socket: drop it unanswered.
      if (served === 2) return req.socket.destroy();
      json(200, { served })(req, res);
    });
    const api = new ApiConnection(kubeconfigFile('stale', ['token: t']));
    expect(await api.get('/one', {}, 5_000)).toEqual({ served: 1 });
    expect(await api.get('/two', {}, 5_000)).toEqual({ served: 3 });
    expect(seen.map((s) => s.url)).toEqual(['/one', '/two', '/two']);
    expect(connections).toBe(2);
  });

  it('a request with no answer fails after its bound, as a timeout', async () => {
    reset(() => undefined);
    const api = new ApiConnection(kubeconfigFile('silent', ['token: t']));
    const started = performance.now();
    await expect(api.get('/hang', {}, 300)).rejects.toBeInstanceOf(RequestTimeoutError);
    expect(performance.now() - started).toBeLessThan(3_000);
  });
});

describe('watches', () => {
  function watchOnce(api: ApiConnection, idleTimeoutMs = 5_000): Promise<{ events: string[]; err: unknown; abort: () => void }> {
    return new Promise((resolve) => {
      const events: string[] = [];
      let abort: () => void = () => undefined;
      void api
        .watch('/apis/x/v1/things', { resourceVersion: '7', timeoutSeconds: 25 }, {
          onEvent: (type, obj) => events.push(`${type} ${(obj as { metadata?: { name?: string } }).metadata?.name ?? (obj as { code?: number }).code}`),
          onDone: (err) => resolve({ events, err, abort }),
        }, { idleTimeoutMs })
        .then((a) => (abort = a));
    });
  }

  it('delivers events split across chunks in order, then ends cleanly once', async () => {
    const lines = ['ADDED a', 'MODIFIED b', 'DELETED c'].map((e) => {
      const [type, name] = e.split(' ');
      return `${JSON.stringify({ type, object: { metadata: { name, resourceVersion: '8' } } })}\n`;
    });
    const stream = lines.join('');
    reset((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      // Cut in the middle of the first and the second event.
      res.write(stream.slice(0, 10));
      setTimeout(() => res.write(stream.slice(10, lines[0]!.length + 5)), 20);
      setTimeout(() => res.end(stream.slice(lines[0]!.length + 5)), 40);
    });
    let doneCalls = 0;
    const api = new ApiConnection(kubeconfigFile('watch', ['token: t']));
    const result = await watchOnce(api);
    doneCalls += 1;
    expect(result.events).toEqual(['ADDED a', 'MODIFIED b', 'DELETED c']);
    expect(result.err).toBeUndefined();
    expect(seen[0]?.url).toBe('/apis/x/v1/things?resourceVersion=7&timeoutSeconds=25&watch=true');
    result.abort(); // after the end: nothing more happens
    expect(doneCalls).toBe(1);
  });

  it('an error answer to the watch request ends it with that status', async () => {
    reset(json(410, { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' }));
    const result = await watchOnce(new ApiConnection(kubeconfigFile('watch-410', ['token: t'])));
    expect(statusCodeOf(result.err)).toBe(410);
    expect(result.events).toEqual([]);
  });

  it('a stream that falls silent fails after the idle bound', async () => {
    reset((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).flushHeaders());
    const started = performance.now();
    const result = await watchOnce(new ApiConnection(kubeconfigFile('watch-idle', ['token: t'])), 300);
    expect(String(result.err)).toMatch(/nothing received for 300 ms/);
    expect(performance.now() - started).toBeLessThan(3_000);
  });

  it('abort() ends the watch once and closes its connection', async () => {
    let closed!: () => void;
    const serverSawClose = new Promise<void>((r) => (closed = r));
    reset((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`${JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a' } } })}\n`);
      req.socket.on('close', () => closed());
    });
    const api = new ApiConnection(kubeconfigFile('watch-abort', ['token: t']));
    const ended: unknown[] = [];
    const first = new Promise<void>((resolve) => {
      void api
        .watch('/w', {}, { onEvent: () => resolve(), onDone: (err) => ended.push(err ?? 'clean') })
        .then((abort) => first.then(() => {
          abort();
          abort();
        }));
    });
    await first;
    await serverSawClose;
    expect(ended).toEqual(['clean']);
  });
});
