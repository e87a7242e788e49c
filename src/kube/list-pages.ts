/**
 * Reading a whole Kubernetes list, page by page, or failing: never a prefix of it.
 *
 * A paged list (`limit` + `continue`) is one consistent snapshot served in pieces. Stopping early
 * is the dangerous failure: a consumer that diffs a relist against its cache would take every
 * object past the last page read for deleted. So this module only ever returns a list it read to
 * its end, and throws otherwise:
 * - the continue token is read from the raw JSON (`metadata.continue`); `_continue` (client-node's
 *   typed-model name) is accepted too, should a caller hand a typed list in;
 * - a page that says more items remain (`remainingItemCount` > 0) but carries no token is an error,
 *   not the end;
 * - a 410 Gone for an expired continue token (etcd compacted the snapshot's revision mid-list)
 *   starts the list again from the first page, with everything read so far discarded;
 * - page and restart counts are bounded.
 */
import { statusCodeOf } from './client.ts';

export interface ListMetaLike {
  resourceVersion?: string;
  continue?: string;
  _continue?: string;
  remainingItemCount?: number;
}

export interface ListPage<T> {
  items?: T[] | null;
  metadata?: ListMetaLike;
}

/** Fetches one page: the first when `continueToken` is undefined. */
export type FetchPage<T> = (continueToken: string | undefined) => Promise<ListPage<T>>;

export interface CompleteList<T> {
  items: T[];
  /** The list's resourceVersion: a watch from here misses nothing. */
  resourceVersion: string;
  pages: number;
  /** How often the list started over after an expired continue token. */
  restarts: number;
}

export interface ListAllOptions {
  /** A list with more pages than this is refused (a server that keeps answering "more" forever). */
  maxPages?: number;
  /** Starts over at most this often after 410 Gone on a continue token. */
  maxRestarts?: number;
  /** Told each time an expired continue token restarts the list. */
  onRestart?: (pagesRead: number) => void;
}

export class IncompleteListError extends Error {
  override name = 'IncompleteListError';
}

/** The continue token as the response carries it, or undefined at the end of the list. */
export function continueTokenOf(meta: ListMetaLike | undefined): string | undefined {
  const token = meta?.continue ?? meta?._continue;
  return typeof token === 'string' && token !== '' ? token : undefined;
}

export async function listAllPages<T>(fetchPage: FetchPage<T>, options: ListAllOptions = {}): Promise<CompleteList<T>> {
  const maxPages = options.maxPages ?? 100_000;
  const maxRestarts = options.maxRestarts ?? 5;
  let pages = 0;
  for (let restarts = 0; ; restarts++) {
    const items: T[] = [];
    let token: string | undefined;
    let resourceVersion = '';
    let expired = false;
    for (let page = 0; ; page++) {
      if (page >= maxPages) throw new IncompleteListError(`the list did not end within ${maxPages} pages; refusing a partial list`);
      let body: ListPage<T>;
      try {
        body = await fetchPage(token);
      } catch (err) {
        // Only a continued page can expire; a 410 on the first page is a real error.
        if (token !== undefined && statusCodeOf(err) === 410) {
          expired = true;
          break;
        }
        throw err;
      }
      pages += 1;
      if (body.items !== undefined && body.items !== null && !Array.isArray(body.items)) {
        throw new IncompleteListError(`page ${page + 1} of the list has an items field that is not an array`);
      }
      for (const item of body.items ?? []) items.push(item);
      // Every page of one paged list carries the snapshot's resourceVersion; keep the first.
      if (resourceVersion === '') resourceVersion = body.metadata?.resourceVersion ?? '';
      const next = continueTokenOf(body.metadata);
      if (next === undefined) {
        const remaining = body.metadata?.remainingItemCount;
        if (typeof remaining === 'number' && remaining > 0) {
          throw new IncompleteListError(`page ${page + 1} of the list says ${remaining} more items remain but carries no continue token`);
        }
        return { items, resourceVersion, pages, restarts };
      }
      if (next === token) throw new IncompleteListError(`page ${page + 1} of the list repeats the continue token it was asked with`);
      token = next;
    }
    if (expired) {
      if (restarts >= maxRestarts) throw new IncompleteListError(`the list's continue token expired ${restarts + 1} times; giving up for now`);
      options.onRestart?.(pages);
    }
  }
}
