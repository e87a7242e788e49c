/**
 * Watches a cluster-set directory and calls back (debounced) when anything in it changes.
 * fs.watch with `recursive` (inotify on Linux, Node >= 20) is the fast path; if it is unavailable
 * or fails, the watcher falls back to polling the tree's names, sizes and mtimes.
 */
import { type FSWatcher, watch } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';

export interface DirWatcherOptions {
  dir: string;
  onChange: () => void;
  logger: Logger;
  /** Quiet time before calling back, so a burst of writes triggers one reload. Default 50 ms. */
  debounceMs?: number;
  /** Poll interval of the fallback. Default 300 ms. */
  pollMs?: number;
  /** Force polling (tests, file systems without inotify). */
  forcePolling?: boolean;
}

export interface DirWatcher {
  readonly mode: 'watch' | 'poll';
  close(): void;
}

/** A cheap fingerprint of the tree (two levels: cluster directories and their files). */
async function fingerprint(dir: string): Promise<string> {
  const parts: string[] = [];
  let top;
  try {
    top = await readdir(dir, { withFileTypes: true });
  } catch {
    return 'unreadable';
  }
  for (const e of top.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (!e.isDirectory()) continue;
    parts.push(`d:${e.name}`);
    let files: string[] = [];
    try {
      files = (await readdir(join(dir, e.name))).sort();
    } catch {
      continue;
    }
    for (const f of files) {
      try {
        const s = await stat(join(dir, e.name, f));
        parts.push(`f:${e.name}/${f}:${s.size}:${s.mtimeMs}`);
      } catch {
        // Vanished between readdir and stat: the next poll sees the new state.
      }
    }
  }
  return parts.join('\n');
}

export function watchDir(options: DirWatcherOptions): DirWatcher {
  const debounceMs = options.debounceMs ?? 50;
  const pollMs = options.pollMs ?? 300;
  let closed = false;
  let debounce: ReturnType<typeof setTimeout> | undefined;
  let watcher: FSWatcher | undefined;
  let pollTimer: ReturnType<typeof setTimeout> | undefined;
  let mode: 'watch' | 'poll' = 'watch';

  const trigger = (): void => {
    if (closed) return;
    if (debounce !== undefined) clearTimeout(debounce);
    debounce = setTimeout(() => {
      debounce = undefined;
      if (!closed) options.onChange();
    }, debounceMs);
    debounce.unref();
  };

  const startPolling = (): void => {
    mode = 'poll';
    let last: string | undefined;
    const poll = async (): Promise<void> => {
      if (closed) return;
      const now = await fingerprint(options.dir);
      if (last !== undefined && now !== last) trigger();
      last = now;
      if (!closed) {
        pollTimer = setTimeout(() => void poll(), pollMs);
        pollTimer.unref();
      }
    };
    void poll();
  };

  if (options.forcePolling === true) {
    startPolling();
  } else {
    try {
      watcher = watch(options.dir, { recursive: true, persistent: false }, () => trigger());
      watcher.on('error', (err) => {
        options.logger.warn({ err, dir: options.dir }, 'directory watch failed, falling back to polling');
        watcher?.close();
        watcher = undefined;
        if (!closed) {
          startPolling();
          trigger();
        }
      });
    } catch (err) {
      options.logger.warn({ err, dir: options.dir }, 'recursive directory watch unavailable, polling instead');
      startPolling();
    }
  }

  return {
    get mode() {
      return mode;
    },
    close() {
      closed = true;
      watcher?.close();
      if (debounce !== undefined) clearTimeout(debounce);
      if (pollTimer !== undefined) clearTimeout(pollTimer);
    },
  };
}
