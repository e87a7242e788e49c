/**
 * The probes themselves: a TCP connect (`tcp://HOST:PORT`: the connection is accepted) or an HTTP
 * GET (`http://HOST:PORT/PATH`: a 2xx or 3xx answer), each bounded by a timeout, never throwing.
 * The error text is short and stable (`connection refused`, `timed out after 1s`, `HTTP 503`): it
 * ends up in the reason imported objects carry.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import type { ProbeTarget } from '../model/cluster-properties.ts';
import type { ProbeOutcome } from '../model/reachability.ts';

export type Probe = (target: ProbeTarget, timeoutMs: number) => Promise<ProbeOutcome>;

const ERRNO_TEXT: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'name not found',
  EAI_AGAIN: 'name lookup failed',
  EADDRNOTAVAIL: 'address not available',
};

function errorText(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return ERRNO_TEXT[code] ?? code;
  return err instanceof Error ? err.message.slice(0, 100) : String(err).slice(0, 100);
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))}s`;
}

export const probeTarget: Probe = (target, timeoutMs) => {
  const started = performance.now();
  return new Promise<ProbeOutcome>((resolve) => {
    let done = false;
    const finish = (error?: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const latencyMs = performance.now() - started;
      resolve(error === undefined ? { target: target.text, ok: true, latencyMs } : { target: target.text, ok: false, error, latencyMs });
      cleanup();
    };
    let cleanup = (): void => undefined;
    const timer = setTimeout(() => finish(`timed out after ${seconds(timeoutMs)}`), timeoutMs);
    timer.unref();
    if (target.scheme === 'tcp') {
      const socket = connect({ host: target.host, port: target.port });
      cleanup = () => socket.destroy();
      socket.once('connect', () => finish());
      socket.once('error', (err) => finish(errorText(err)));
      return;
    }
    const req = request({ host: target.host, port: target.port, path: target.path, method: 'GET', headers: { 'user-agent': 'clusterset-dns-probe' }, agent: false });
    cleanup = () => req.destroy();
    req.once('response', (res) => {
      const code = res.statusCode ?? 0;
      res.resume();
      finish(code >= 200 && code < 400 ? undefined : `HTTP ${code}`);
    });
    req.once('error', (err) => finish(errorText(err)));
    req.end();
  });
};
