/**
 * The DNS server's snapshot feed: a change reaches answers within a debounce window, a burst of
 * changes is coalesced into one rebuild, and when rebuilding the whole state gets expensive (many
 * services), a steady stream of changes cannot make it rebuild back to back.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startSnapshotFeed } from '../../src/runtime/snapshot-feed.ts';
import type { ImportedState, ImportedStateSource } from '../../src/model/imported-state.ts';

/** A source whose current() takes `buildMs` of (fake) time, like a large state would. */
function fakeSource(buildMs: () => number) {
  const listeners = new Set<() => void>();
  const source: ImportedStateSource = {
    current(): ImportedState {
      vi.setSystemTime(Date.now() + buildMs());
      return { synced: true, services: [], slices: [] };
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  return { source, change: () => listeners.forEach((l) => l()) };
}

describe('snapshot feed', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('publishes a change after the debounce window, and a burst as one rebuild', () => {
    const { source, change } = fakeSource(() => 0);
    const versions: number[] = [];
    const feed = startSnapshotFeed({ source, localCluster: 'east', publish: (s) => versions.push(s.version), onError: () => {}, now: Date.now, debounceMs: 25, maxDelayMs: 200 });
    expect(versions).toEqual([1]);
    change();
    vi.advanceTimersByTime(24);
    expect(versions).toEqual([1]);
    vi.advanceTimersByTime(1);
    expect(versions).toEqual([1, 2]);
    for (let i = 0; i < 5; i++) {
      change();
      vi.advanceTimersByTime(10);
    }
    vi.advanceTimersByTime(25);
    expect(versions).toEqual([1, 2, 3]);
    feed.stop();
  });

  it('a steady stream of changes never rebuilds more often than every maxDelay window', () => {
    const { source, change } = fakeSource(() => 0);
    const versions: number[] = [];
    const feed = startSnapshotFeed({ source, localCluster: 'east', publish: (s) => versions.push(s.version), onError: () => {}, now: Date.now, debounceMs: 25, maxDelayMs: 200 });
    for (let i = 0; i < 100; i++) {
      change();
      vi.advanceTimersByTime(10); // changes 10 ms apart: the debounce window never ends on its own
    }
    // 1,000 ms of changes: bounded by maxDelay, about one rebuild per 200 ms.
    expect(versions.length - 1).toBeGreaterThanOrEqual(4);
    expect(versions.length - 1).toBeLessThanOrEqual(6);
    feed.stop();
  });

  it('after an expensive rebuild, waits costFactor times its duration before the next one', () => {
    let buildMs = 0;
    const { source, change } = fakeSource(() => buildMs);
    const versions: number[] = [];
    const feed = startSnapshotFeed({ source, localCluster: 'east', publish: (s) => versions.push(s.version), onError: () => {}, now: Date.now, debounceMs: 25, maxDelayMs: 200, costFactor: 4 });
    buildMs = 50; // from now on a rebuild takes 50 ms
    change();
    vi.advanceTimersByTime(25);
    expect(versions).toEqual([1, 2]);
    // Changes 40 ms apart (each would end a debounce window): no rebuild for 4 × 50 ms.
    change();
    vi.advanceTimersByTime(40);
    change();
    vi.advanceTimersByTime(40);
    change();
    vi.advanceTimersByTime(40);
    expect(versions).toEqual([1, 2]);
    vi.advanceTimersByTime(100);
    expect(versions).toEqual([1, 2, 3]);
    feed.stop();
  });
});

describe('snapshot feed: refused addresses', () => {
  it('reports each refusal once (and again after it went away and came back); never serves it', async () => {
    const { ep, imported, port } = await import('../helpers/dns-fixture.ts');
    const { addressPolicyFrom } = await import('../../src/model/address-policy.ts');
    const listeners = new Set<() => void>();
    let addresses = ['169.254.169.254', '10.0.0.1'];
    const source: ImportedStateSource = {
      current() {
        const web = imported('shop', 'web', 'Headless', [port('http', 80)], { west: { endpoints: addresses.map((a) => ep([a])) } });
        return { synced: true, services: [web.service], slices: web.slices };
      },
      subscribe(l) {
        listeners.add(l);
        return () => listeners.delete(l);
      },
    };
    vi.useFakeTimers();
    try {
      const reported: string[][] = [];
      const feed = startSnapshotFeed({ source, localCluster: 'east', publish: () => {}, onError: () => {}, addressPolicy: addressPolicyFrom(['10.0.0.0/8']), onRefused: (r) => reported.push(r.map((x) => x.reason)) });
      const rebuild = () => {
        listeners.forEach((l) => l());
        vi.advanceTimersByTime(300);
      };
      rebuild();
      expect(reported).toEqual([['169.254.169.254: link-local address (169.254.0.0/16, cloud metadata lives here)']]);
      expect(feed.current().services.get('shop/web')?.backends[0]?.endpoints.map((e) => e.addresses)).toEqual([['10.0.0.1']]);
      addresses = ['10.0.0.1', '192.168.0.1'];
      rebuild();
      expect(reported[1]).toEqual(['192.168.0.1: outside the allowed CIDRs (10.0.0.0/8)']);
      addresses = ['10.0.0.1', '169.254.169.254'];
      rebuild();
      expect(reported).toHaveLength(3);
      feed.stop();
    } finally {
      vi.useRealTimers();
    }
  });
});
