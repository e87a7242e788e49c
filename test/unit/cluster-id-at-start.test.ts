/**
 * The cluster ID at start when the API server cannot be read (a closed loopback port): with
 * --cluster-id the start goes on unchecked (and says so); without it, a bounded number of attempts
 * and then a clear error.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { createServer } from 'node:net';
import pino from 'pino';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ClusterIdError, clusterIdAtStart } from '../../src/runtime/cluster-id.ts';

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

function kubeConfigTo(port: number): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

function capture(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

describe('cluster ID at start, API server unreachable', () => {
  it('with --cluster-id: starts with the flag, unchecked, and logs that', async () => {
    const { logger, lines } = capture();
    expect(await clusterIdAtStart(kubeConfigTo(await closedPort()), 'west', logger, { timeoutMs: 2_000 })).toBe('west');
    expect(lines.some((l) => String(l['msg']).includes('using --cluster-id west unchecked'))).toBe(true);
  });

  it('without it: gives up after the attempts with what to do', async () => {
    const { logger } = capture();
    const port = await closedPort();
    const attempt = clusterIdAtStart(kubeConfigTo(port), undefined, logger, { timeoutMs: 2_000, attempts: 2, retryMs: 10 });
    await expect(attempt).rejects.toBeInstanceOf(ClusterIdError);
    await expect(clusterIdAtStart(kubeConfigTo(port), undefined, logger, { timeoutMs: 2_000, attempts: 1 })).rejects.toThrow(
      new RegExp(`^no --cluster-id, and the ClusterProperties of http://127\\.0\\.0\\.1:${port} could not be read \\(.+\\); pass --cluster-id ID$`),
    );
  });
});
