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

/** Options of a list whose raw items are turned into something smaller as each page arrives. */
export interface TransformedListOptions<R, T> extends ListAllOptions {
  /**
   * Called on each raw item once the next page has been asked for, so the API server serves that
   * page while this one is turned into what is kept; undefined drops the item.
   */
  transform: (item: R) => T | undefined;
}

export function listAllPages<T>(fetchPage: FetchPage<T>, options?: ListAllOptions): Promise<CompleteList<T>>;
export function listAllPages<R, T>(fetchPage: FetchPage<R>, options: TransformedListOptions<R, T>): Promise<CompleteList<T>>;
export async function listAllPages<R, T>(fetchPage: FetchPage<R>, options: ListAllOptions & { transform?: (item: R) => T | undefined } = {}): Promise<CompleteList<T>> {
  const maxPages = options.maxPages ?? 100_000;
  const maxRestarts = options.maxRestarts ?? 5;
  const transform = options.transform ?? ((item: R) => item as unknown as T);
  /** A page asked for, with the token it was asked with (only a continued page can expire). */
  const ask = (token: string | undefined): { token: string | undefined; body: Promise<ListPage<R>> } => {
    const body = fetchPage(token);
    // Awaited on the next turn of the loop; if the loop throws first, its failure is not unhandled.
    body.catch(() => {});
    return { token, body };
  };
  let pages = 0;
  for (let restarts = 0; ; restarts++) {
    const items: T[] = [];
    let resourceVersion = '';
    let expired = false;
    let asked = ask(undefined);
    for (let page = 0; ; page++) {
      let body: ListPage<R>;
      try {
        body = await asked.body;
      } catch (err) {
        // Only a continued page can expire; a 410 on the first page is a real error.
        if (asked.token !== undefined && statusCodeOf(err) === 410) {
          expired = true;
          break;
        }
        throw err;
      }
      pages += 1;
      if (body.items !== undefined && body.items !== null && !Array.isArray(body.items)) {
        throw new IncompleteListError(`page ${page + 1} of the list has an items field that is not an array`);
      }
      // Every page of one paged list carries the snapshot's resourceVersion; keep the first.
      if (resourceVersion === '') resourceVersion = body.metadata?.resourceVersion ?? '';
      const next = continueTokenOf(body.metadata);
      if (next === undefined) {
        const remaining = body.metadata?.remainingItemCount;
        if (typeof remaining === 'number' && remaining > 0) {
          throw new IncompleteListError(`page ${page + 1} of the list says ${remaining} more items remain but carries no continue token`);
        }
      } else {
        if (next === asked.token) throw new IncompleteListError(`page ${page + 1} of the list repeats the continue token it was asked with`);
        if (page + 1 >= maxPages) throw new IncompleteListError(`the list did not end within ${maxPages} pages; refusing a partial list`);
        // The next page is asked for before this one's items are transformed: the two overlap.
        asked = ask(next);
      }
      for (const item of body.items ?? []) {
        const kept = transform(item);
        if (kept !== undefined) items.push(kept);
      }
      if (next === undefined) return { items, resourceVersion, pages, restarts };
    }
    if (expired) {
      if (restarts >= maxRestarts) throw new IncompleteListError(`the list's continue token expired ${restarts + 1} times; giving up for now`);
      options.onRestart?.(pages);
    }
  }
}
