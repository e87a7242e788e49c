/**
 * The informer cache takes in the answers to our own writes before their watch events (so a
 * reconcile in between does not repeat the write), and must then neither deliver those events
 * twice nor let an older event roll the cache back — while never hiding a change someone else
 * made, and falling back to plain watching when resourceVersions are not numbers.
 */
import { describe, expect, it } from 'vitest';
import { judgeWatchEvent, revisionOf, writeIsNewer, type WatchVerdict } from '../../src/kube/own-writes.ts';

const v = (resourceVersion: string | undefined) => ({ metadata: resourceVersion === undefined ? {} : { resourceVersion } });

describe('revisionOf', () => {
  it.each([
    ['123', 123n],
    ['0', 0n],
    ['98765432109876543210', 98765432109876543210n],
    ['', undefined],
    ['12a', undefined],
    ['-1', undefined],
    [undefined, undefined],
  ])('%j → %s', (rv, want) => {
    expect(revisionOf(v(rv))).toBe(want);
  });
});

describe('writeIsNewer: when a write answer replaces the cached object', () => {
  it.each([
    { name: 'not cached, never deleted: take it', cached: undefined, written: '10', deletedAt: undefined, want: true },
    { name: 'newer than the cached version (the write changed it): take it', cached: '10', written: '11', deletedAt: undefined, want: true },
    { name: 'same version (a no-op apply, or its event already came): keep', cached: '11', written: '11', deletedAt: undefined, want: false },
    { name: 'older than the cache (someone changed it since): keep the newer', cached: '12', written: '11', deletedAt: undefined, want: false },
    { name: 'we deleted a newer version meanwhile: do not resurrect', cached: undefined, written: '11', deletedAt: 12n, want: false },
    { name: 'recreated after our delete: take it', cached: undefined, written: '13', deletedAt: 12n, want: true },
    { name: 'non-numeric answer: wait for the watch', cached: '10', written: 'abc', deletedAt: undefined, want: false },
    { name: 'non-numeric cache: wait for the watch', cached: 'abc', written: '11', deletedAt: undefined, want: false },
  ])('$name', ({ cached, written, deletedAt, want }) => {
    expect(writeIsNewer(cached === undefined ? undefined : v(cached), v(written), deletedAt)).toBe(want);
  });
});

describe('judgeWatchEvent: what a watch event does after our own writes', () => {
  const table: Array<{ name: string; type: string; event: string; cached: string | undefined; deletedAt?: bigint; want: WatchVerdict }> = [
    { name: 'a new object', type: 'ADDED', event: '5', cached: undefined, want: 'deliver' },
    { name: 'someone else changed it', type: 'MODIFIED', event: '12', cached: '11', want: 'deliver' },
    { name: 'the event of our own write, already delivered', type: 'MODIFIED', event: '11', cached: '11', want: 'stale' },
    { name: 'an older event still on its way after our write', type: 'ADDED', event: '9', cached: '11', want: 'stale' },
    { name: 'a deletion by someone else', type: 'DELETED', event: '13', cached: '11', want: 'deliver' },
    { name: 'the DELETED event of our own delete', type: 'DELETED', event: '13', cached: undefined, deletedAt: 12n, want: 'own-delete-seen' },
    { name: 'an older event after our delete (no resurrection)', type: 'MODIFIED', event: '12', cached: undefined, deletedAt: 12n, want: 'stale' },
    { name: 'recreated after our delete', type: 'ADDED', event: '20', cached: undefined, deletedAt: 12n, want: 'recreated' },
    { name: 'non-numeric versions: deliver as before', type: 'MODIFIED', event: 'b', cached: 'a', want: 'deliver' },
  ];
  it.each(table)('$name → $want', ({ type, event, cached, deletedAt, want }) => {
    expect(judgeWatchEvent(type, v(event), cached === undefined ? undefined : v(cached), deletedAt)).toBe(want);
  });
});
