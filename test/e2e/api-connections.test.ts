/**
 * The agent's API calls over TLS, against a local HTTPS server that counts handshakes and requests
 * in flight: writes and list reads of one kubeconfig reuse the same keep-alive connections (not
 * one TLS handshake per request, as client-node does on its own), writes never exceed the gate's
 * limit in flight, and 429 answers make that limit back off.
 */
import { createServer, type Server } from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { makeRawGet } from '../../src/kube/client.ts';
import { KubeWriter, resourceOf } from '../../src/kube/writer.ts';
import type { KubeObject } from '../../src/kube/kinds/object-meta.ts';
import { createServingPki } from '../harness/certs.ts';

interface FakeApiserver {
  server: Server;
  port: number;
  handshakes: number;
  inFlight: number;
  peakInFlight: number;
  requests: number;
  /** Answer delay (ms) and the status of the next answers. */
  delayMs: number;
  status: number;
}

let dir: string;
let ca: string;
let api: FakeApiserver;

async function startFake(cert: string, key: string): Promise<FakeApiserver> {
  const state = { handshakes: 0, inFlight: 0, peakInFlight: 0, requests: 0, delayMs: 0, status: 200 } as FakeApiserver;
  const server = createServer({ cert, key }, (req, res) => {
    state.requests += 1;
    state.inFlight += 1;
    state.peakInFlight = Math.max(state.peakInFlight, state.inFlight);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      setTimeout(() => {
        state.inFlight -= 1;
        const body = req.method === 'GET' ? JSON.stringify({ kind: 'List', metadata: {}, items: [] }) : Buffer.concat(chunks).toString() || '{}';
        res.writeHead(state.status, { 'content-type': 'application/json' });
        res.end(state.status === 200 ? body : JSON.stringify({ kind: 'Status', code: state.status, message: 'too many requests' }));
      }, state.delayMs);
    });
  });
  server.on('secureConnection', () => (state.handshakes += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.server = server;
  state.port = (server.address() as { port: number }).port;
  return state;
}

function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server: `https://127.0.0.1:${api.port}`, caData: Buffer.from(ca).toString('base64'), skipTLSVerify: false }],
    users: [{ name: 'agent', token: 'a-token' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'agent' }],
    currentContext: 'fake',
  });
  return kc;
}

const RESOURCE = resourceOf('multicluster.x-k8s.io/v1beta1', 'serviceimports');
const object = (i: number): KubeObject => ({ apiVersion: 'multicluster.x-k8s.io/v1beta1', kind: 'ServiceImport', metadata: { name: `svc-${i}`, namespace: 'bench' } });

function reset(): void {
  api.handshakes = 0;
  api.requests = 0;
  api.peakInFlight = 0;
  api.delayMs = 0;
  api.status = 200;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'api-connections-'));
  const pki = await createServingPki(dir);
  ca = readFileSync(pki.caCert, 'utf8');
  api = await startFake(readFileSync(pki.cert, 'utf8'), readFileSync(pki.key, 'utf8'));
});

afterAll(async () => {
  api.server.closeAllConnections();
  await new Promise<void>((resolve) => api.server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

describe('API connections of one kubeconfig', () => {
  it('applies and list reads one after another reuse their TLS connections', async () => {
    reset();
    const kc = kubeConfig();
    const writer = new KubeWriter(kc);
    const secondWriter = new KubeWriter(kc);
    const get = makeRawGet(kc);
    for (let i = 0; i < 20; i++) {
      await writer.apply(RESOURCE, object(i));
      await secondWriter.applyStatus(RESOURCE, object(i));
      await get('/apis/multicluster.x-k8s.io/v1beta1/serviceimports', { limit: 500 }, 5_000);
    }
    expect(api.requests).toBe(60);
    // A connection goes back to the pool just after its answer is read, so a request sent at once
    // may open a second one; never one per request. (A DELETE carries its preconditions in a body,
    // after which undici never reuses that connection: deletes are the exception.)
    expect(api.handshakes).toBeLessThanOrEqual(2);
  });

  it('a burst of writes keeps exactly the gate limit in flight, on a few connections', async () => {
    reset();
    api.delayMs = 20;
    const writer = new KubeWriter(kubeConfig(), { gate: { initial: 6, min: 6, max: 6 } });
    await Promise.all(Array.from({ length: 120 }, (_, i) => writer.apply(RESOURCE, object(i))));
    expect(api.requests).toBe(120);
    expect(api.peakInFlight).toBe(6);
    // At most the limit in use, plus those just being handed back to the pool.
    expect(api.handshakes).toBeLessThanOrEqual(12);
  });

  it('429 answers halve the limit; the writes fail with the API error, nothing hangs', async () => {
    reset();
    api.status = 429;
    const changes: string[] = [];
    const writer = new KubeWriter(kubeConfig(), { gate: { initial: 32, min: 4, max: 64 }, metrics: { apiLimit: (_t, limit, why) => changes.push(`${why} ${limit}`) } });
    const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => writer.apply(RESOURCE, object(i))));
    expect(results.every((r) => r.status === 'rejected' && (r.reason as { code?: number }).code === 429)).toBe(true);
    expect(changes[0]).toBe('initial 32');
    expect(changes).toContain('overload 16');
    expect(writer.concurrencyLimit).toBeLessThan(32);
    expect(writer.concurrencyLimit).toBeGreaterThanOrEqual(4);
  });

  it('an urgent write (a lease renewal) does not wait behind a burst that fills the gate', async () => {
    reset();
    api.delayMs = 200;
    const writer = new KubeWriter(kubeConfig(), { gate: { initial: 2, min: 2, max: 2 } });
    const burst = Promise.all(Array.from({ length: 40 }, (_, i) => writer.apply(RESOURCE, object(i))));
    await new Promise((r) => setTimeout(r, 50)); // the burst holds both slots, 38 wait
    const started = performance.now();
    await writer.apply(RESOURCE, object(99), { urgent: true });
    // About one answer delay, not the ~4 s the queued burst needs (20 rounds of 200 ms).
    expect(performance.now() - started).toBeLessThan(1_500);
    await burst;
  });
});
