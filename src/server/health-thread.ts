/**
 * The health listener's thread (issue 9): answers /healthz and /readyz on their own port from an
 * event loop that nothing else uses, so a flood of /metrics, /debug or status requests on the main
 * HTTP port — or a long report, or a garbage collection of the big state heap — cannot delay a
 * kubelet probe. It knows only what the main thread last told it (health problem, readiness) and
 * when the main thread's event loop last ran (a shared clock it stamps), so a main thread that is
 * blocked for longer than `stallMs` makes /healthz fail instead of being hidden.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';

export interface HealthThreadData {
  host: string;
  port: number;
  /** One Float64 slot: Date.now() of the main thread's last heartbeat. */
  beat: SharedArrayBuffer;
  stallMs: number;
}

export type HealthToThread = { type: 'state'; problem: string | null; notReady: string | null } | { type: 'stop' };
export type HealthFromThread = { type: 'listening'; port: number } | { type: 'listen-error'; code: string; message: string } | { type: 'stopped' };

const data = workerData as HealthThreadData;
const lastBeat = new Float64Array(data.beat);
let problem: string | null = null;
let notReady: string | null = 'starting';

function reply(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(body);
}

const server = http.createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return reply(res, 405, 'method not allowed\n');
  }
  if (path === '/healthz') {
    const silentMs = Date.now() - lastBeat[0]!;
    if (silentMs > data.stallMs) return reply(res, 503, `unhealthy: the main event loop has not run for ${(silentMs / 1000).toFixed(1)} s\n`);
    return problem === null ? reply(res, 200, 'ok\n') : reply(res, 503, `unhealthy: ${problem}\n`);
  }
  if (path === '/readyz') return notReady === null ? reply(res, 200, 'ready\n') : reply(res, 503, `not ready: ${notReady}\n`);
  return reply(res, 404, 'not found: this is the health listener (/healthz, /readyz); /metrics and /debug are on --http-listen\n');
});
server.requestTimeout = 5_000;
server.headersTimeout = 5_000;

const post = (message: HealthFromThread) => parentPort!.postMessage(message);

parentPort!.on('message', (message: HealthToThread) => {
  if (message.type === 'state') {
    problem = message.problem;
    notReady = message.notReady;
    return;
  }
  server.close(() => {
    post({ type: 'stopped' });
    parentPort!.close();
  });
  server.closeAllConnections();
});

server.once('error', (error: NodeJS.ErrnoException) => post({ type: 'listen-error', code: error.code ?? 'UNKNOWN', message: error.message }));
server.listen({ host: data.host, port: data.port }, () => {
  server.on('error', () => {
    /* per-connection errors after listening are the client's; the server keeps serving */
  });
  post({ type: 'listening', port: (server.address() as AddressInfo).port });
});
