/**
 * Paged lists are read to their end or not at all (list-pages.ts), with a page size of 3 against a
 * fake list endpoint that behaves like the API server's: consistent pages, continue tokens in the
 * raw JSON (`metadata.continue`) or under client-node's typed name (`_continue`), 410 Gone for a
 * token whose snapshot was compacted.
 */
import { describe, expect, it } from 'vitest';
import { IncompleteListError, continueTokenOf, listAllPages, type ListPage } from '../../src/kube/list-pages.ts';

interface Obj {
  name: string;
}

class GoneError extends Error {
  code = 410;
}

/** A list endpoint over `count` objects, `pageSize` per page; tokens encode the offset and the snapshot. */
function fakeList(count: number, pageSize: number, tokenField: 'continue' | '_continue' = 'continue') {
  let snapshot = 1;
  const calls: Array<string | undefined> = [];
  const objects = (): Obj[] => Array.from({ length: count }, (_, i) => ({ name: `o${i}` }));
  return {
    calls,
    /** Expires every token handed out so far (etcd compaction). */
    compact(): void {
      snapshot += 1;
    },
    fetch: async (token: string | undefined): Promise<ListPage<Obj>> => {
      calls.push(token);
      let offset = 0;
      if (token !== undefined) {
        const [snap, off] = token.split(':').map(Number);
        if (snap !== snapshot) throw new GoneError('The provided continue parameter is too old');
        offset = off!;
      }
      const items = objects().slice(offset, offset + pageSize);
      const next = offset + pageSize < count ? `${snapshot}:${offset + pageSize}` : undefined;
      return { items, metadata: { resourceVersion: `rv${snapshot}`, ...(next ? { [tokenField]: next, remainingItemCount: count - offset - pageSize } : {}) } };
    },
  };
}

describe('listAllPages', () => {
  it('follows raw `continue` tokens (custom resources) to the last page', async () => {
    const api = fakeList(10, 3);
    const list = await listAllPages(api.fetch);
    expect(list.items.map((o) => o.name)).toEqual(Array.from({ length: 10 }, (_, i) => `o${i}`));
    expect(list.pages).toBe(4);
    expect(list.resourceVersion).toBe('rv1');
  });

  it('follows `_continue` tokens too (client-node typed lists of built-in kinds)', async () => {
    const api = fakeList(7, 3, '_continue');
    expect((await listAllPages(api.fetch)).items).toHaveLength(7);
  });

  it('reads an exactly full last page and an empty list', async () => {
    expect((await listAllPages(fakeList(9, 3).fetch)).items).toHaveLength(9);
    expect((await listAllPages(fakeList(0, 3).fetch)).items).toEqual([]);
  });

  it('starts again from the first page when a continue token expires (410), and returns one complete list', async () => {
    const api = fakeList(10, 3);
    let restarts = 0;
    let compacted = false;
    const list = await listAllPages(
      async (token) => {
        // Compact once, after the second page was served.
        if (!compacted && api.calls.length === 2) {
          api.compact();
          compacted = true;
        }
        return api.fetch(token);
      },
      { onRestart: () => (restarts += 1) },
    );
    expect(restarts).toBe(1);
    expect(list.restarts).toBe(1);
    expect(list.items.map((o) => o.name)).toEqual(Array.from({ length: 10 }, (_, i) => `o${i}`));
    expect(list.resourceVersion).toBe('rv2');
    // The restart asked for the first page again, not for the next one.
    expect(api.calls.filter((t) => t === undefined)).toHaveLength(2);
  });

  it('gives up after a bounded number of restarts instead of delivering a part', async () => {
    const api = fakeList(10, 3);
    const fetch = async (token: string | undefined) => {
      if (token !== undefined) api.compact();
      return api.fetch(token);
    };
    await expect(listAllPages(fetch, { maxRestarts: 2 })).rejects.toThrow(/expired 3 times/);
  });

  it('fails loudly when a page says more items remain but carries no token', async () => {
    const fetch = async (): Promise<ListPage<Obj>> => ({ items: [{ name: 'a' }], metadata: { resourceVersion: '5', remainingItemCount: 499 } });
    await expect(listAllPages(fetch)).rejects.toThrow(IncompleteListError);
    await expect(listAllPages(fetch)).rejects.toThrow(/499 more items remain but carries no continue token/);
  });

  it('refuses a list that never ends, or repeats its token', async () => {
    let n = 0;
    const endless = async (): Promise<ListPage<Obj>> => ({ items: [], metadata: { continue: `t${n++}` } });
    await expect(listAllPages(endless, { maxPages: 50 })).rejects.toThrow(/within 50 pages/);
    const stuck = async (): Promise<ListPage<Obj>> => ({ items: [], metadata: { continue: 'same' } });
    await expect(listAllPages(stuck)).rejects.toThrow(/repeats the continue token/);
  });

  it('passes other errors through: a 410 on the first page, a 500 on a later one', async () => {
    await expect(listAllPages(async () => Promise.reject(new GoneError('gone')))).rejects.toThrow('gone');
    const api = fakeList(10, 3);
    const failing = async (token: string | undefined) => {
      if (token !== undefined) throw Object.assign(new Error('internal error'), { code: 500 });
      return api.fetch(token);
    };
    await expect(listAllPages(failing)).rejects.toThrow('internal error');
  });

  it('reads the token from either field, and treats an empty one as the end', () => {
    expect(continueTokenOf({ continue: 'a' })).toBe('a');
    expect(continueTokenOf({ _continue: 'b' })).toBe('b');
    expect(continueTokenOf({ continue: '' })).toBeUndefined();
    expect(continueTokenOf(undefined)).toBeUndefined();
  });
});
