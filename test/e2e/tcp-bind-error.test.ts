/**
 * A TCP bind that fails is reported once, to the caller, and never logged as a listener error:
 * with port 0, bindBoth retries another port when the UDP port it got is taken for TCP, and that
 * retry must leave no error in the logs (an operator alerting on error logs would be paged for
 * nothing).
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { Responder } from '../../src/server/responder.ts';
import { listenTcp } from '../../src/server/tcp-listener.ts';
import { QueryStats } from '../../src/observability/query-stats.ts';
import { OPTIONS } from '../helpers/dns-fixture.ts';
import { memoryLogger } from './server-helpers.ts';

describe('TCP listener bind errors', () => {
  it('a taken port rejects the listen with the address, and logs no error', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const port = (taken.address() as net.AddressInfo).port;
    const { logger, records } = memoryLogger();
    const stats = new QueryStats();
    const responder = new Responder({ dns: OPTIONS, stats, logger });
    try {
      await expect(listenTcp({ host: '127.0.0.1', port, idleTimeoutMs: 1000, maxConnections: 4, responder, stats, logger })).rejects.toThrow(String(port));
      await new Promise((r) => setTimeout(r, 50));
      expect(records.filter((r) => Number(r['level']) >= 50)).toEqual([]);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
