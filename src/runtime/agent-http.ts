/**
 * The agent's small HTTP side: /metrics, /healthz (the process runs), /readyz (caches synced), and
 * the status view: /status (JSON) and / (the status page), once the caches have synced.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { ListenAddress } from '../config/options.ts';
import type { StatusFilter, StatusReport } from '../model/status-report.ts';
import { statusRoutes } from './status-routes.ts';

export interface AgentHttpOptions {
  listen: ListenAddress;
  metrics: () => Promise<{ contentType: string; body: string }>;
  /** Why the agent is not ready, or null. */
  notReady: () => string | null;
  logger: Logger;
  /** The status report, undefined until the caches synced. */
  status?: (filter: StatusFilter) => StatusReport | undefined;
}

export interface AgentHttp {
  start(): Promise<{ port: number }>;
  stop(): Promise<void>;
}

export function createAgentHttp(options: AgentHttpOptions): AgentHttp {
  const send = (res: http.ServerResponse, status: number, contentType: string, body: string): void => {
    res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
    res.end(body);
  };
  const routes = options.status === undefined ? undefined : statusRoutes(options.status);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const text = 'text/plain; charset=utf-8';
    const route = routes?.get(path);
    if (route !== undefined) {
      try {
        const r = route(url);
        send(res, r.status, r.contentType, r.body);
      } catch (err) {
        options.logger.error({ err, path }, 'status route failed');
        send(res, 500, text, 'internal error\n');
      }
      return;
    }
    if (path === '/metrics') {
      options.metrics().then(
        ({ contentType, body }) => send(res, 200, contentType, body),
        (err: unknown) => {
          options.logger.error({ err }, 'metrics render failed');
          send(res, 500, text, 'internal error\n');
        },
      );
    } else if (path === '/healthz') send(res, 200, text, 'ok\n');
    else if (path === '/readyz') {
      const reason = options.notReady();
      if (reason === null) send(res, 200, text, 'ready\n');
      else send(res, 503, text, `not ready: ${reason}\n`);
    } else send(res, 404, text, 'not found (try /, /status, /metrics, /healthz, /readyz)\n');
  });
  server.requestTimeout = 15_000;
  return {
    start() {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: options.listen.host, port: options.listen.port }, () => {
          server.removeListener('error', reject);
          resolve({ port: (server.address() as AddressInfo).port });
        });
      });
    },
    stop() {
      return new Promise((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
