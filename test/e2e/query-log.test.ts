// The opt-in query log (--query-log) through the real launcher, answered by a DNS worker process:
// one info record per query with client, name, type, rcode, duration and proto, like CoreDNS's log
// plugin; without the flag, no query records.
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDig } from '../helpers/dig.ts';
import { freeDnsPort, freePort, sleep } from '../harness/net.ts';
import { stopChild } from '../harness/procs.ts';

const REPO = resolve(import.meta.dirname, '../..');
const BIN = join(REPO, 'bin/clusterset-dns.js');

interface Serve {
  child: ChildProcess;
  port: number;
  out: () => string;
}

async function serve(extra: string[]): Promise<Serve> {
  const port = await freeDnsPort();
  let out = '';
  let err = '';
  const child = spawn(process.execPath, [BIN, 'serve', '--from-dir', join(REPO, 'examples/basic'), '--cluster-id', 'east', '--listen', `127.0.0.1:${port}`,
    '--http-listen', `127.0.0.1:${await freePort()}`, ...(extra.includes('--log-format') ? [] : ['--log-format', 'json']), ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const deadline = Date.now() + 30_000;
  while (!err.includes('Try:')) {
    if (Date.now() > deadline) throw new Error(`serve did not start: ${err}`);
    await sleep(50);
  }
  return { child, port, out: () => out };
}

async function stop(s: Serve | undefined): Promise<void> {
  if (s !== undefined) await stopChild(s.child);
}

const queryRecords = (out: string): Array<Record<string, unknown>> =>
  out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r['msg'] === 'query');

describe('--query-log', () => {
  let on: Serve | undefined;
  let off: Serve | undefined;
  beforeAll(async () => {
    [on, off] = await Promise.all([serve(['--query-log', '--workers', '1']), serve(['--workers', '0'])]);
  });
  afterAll(async () => {
    await Promise.all([stop(on), stop(off)]);
  });

  it('logs each query with client, name, type, rcode, duration and proto', async () => {
    await runDig(on!.port, 'web.shop.svc.clusterset.local', 'A');
    await runDig(on!.port, 'nope.shop.svc.clusterset.local', 'AAAA', { tcp: true });
    const deadline = Date.now() + 5_000;
    while (queryRecords(on!.out()).length < 2 && Date.now() < deadline) await sleep(50);
    const [a, nx] = queryRecords(on!.out());
    expect(a).toMatchObject({ level: 30, name: 'web.shop.svc.clusterset.local.', type: 'A', rcode: 'NOERROR', proto: 'udp', client: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
    expect(typeof a!['durationMs']).toBe('number');
    expect(nx).toMatchObject({ name: 'nope.shop.svc.clusterset.local.', type: 'AAAA', rcode: 'NXDOMAIN', proto: 'tcp' });
  });

  it('worker processes log in the format the primary was given (--log-format text)', async () => {
    const text = await serve(['--query-log', '--workers', '1', '--log-format', 'text']);
    try {
      await runDig(text.port, 'web.shop.svc.clusterset.local', 'A');
      const deadline = Date.now() + 5_000;
      const queryLine = () => text.out().split('\n').find((l) => l.includes('web.shop.svc.clusterset.local.'));
      while (queryLine() === undefined && Date.now() < deadline) await sleep(50);
      // The query was answered (and logged) by the worker: its line is text like the primary's.
      expect(queryLine()).toMatch(/query/);
      expect(text.out().split('\n').filter((l) => l.startsWith('{'))).toEqual([]);
    } finally {
      await stop(text);
    }
  });

  it('is off by default', async () => {
    await runDig(off!.port, 'web.shop.svc.clusterset.local', 'A');
    await sleep(300);
    expect(queryRecords(off!.out())).toEqual([]);
  });
});
