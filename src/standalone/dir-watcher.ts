/**
 * Watches a cluster-set directory (DIR and its cluster sub-directories, two levels) and calls back,
 * debounced, with the paths that changed.
 *
 * Each DIRECTORY is watched (one non-recursive fs.watch each), never a file: inotify on a directory
 * reports writes, truncations, creations, deletions and renames of every entry in it, whatever
 * inode the entry has now. Watching files instead (what a recursive watch does on Linux) follows
 * the inode, so after `sed -i`, an editor's save-by-rename or `git checkout` replaced a file, its
 * later saves went unnoticed. A change in DIR itself re-reads the list of cluster directories and
 * watches new ones. Files reached through a symlink are polled by stat (their target's directory
 * raises no event in DIR). If fs.watch is unavailable or fails, the whole tree is polled.
 */
import { type FSWatcher, watch } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { statErrorVersion, statVersion } from './file-version.ts';

export interface DirChangeBatch {
  /** Changed paths: files, cluster directories (re-list them), or DIR itself (re-list everything). */
  paths: Set<string>;
}

export interface DirWatcherOptions {
  dir: string;
  onChange: (batch: DirChangeBatch) => void;
  logger: Logger;
  /** Quiet time before calling back, so a burst of writes triggers one reload. Default 50 ms. */
  debounceMs?: number;
  /** Poll interval of the fallback and of symlinked files. Default 300 ms. */
  pollMs?: number;
  /** Force polling (tests, file systems without inotify). */
  forcePolling?: boolean;
  /**
   * Safety net: this often, check everything once and re-watch DIR if it was replaced (a new
   * inode: `mv new DIR`), so no lost event (inotify queue overflow) goes unnoticed for long.
   * Default 30 s.
   */
  resyncMs?: number;
}

export interface DirWatcher {
  readonly mode: 'watch' | 'poll';
  /**
   * Files to poll by stat because no directory event reaches them (symlinked files), each with the
   * version last loaded: a difference is reported as a change.
   */
  setPolledFiles(files: ReadonlyMap<string, string>): void;
  close(): void;
}

async function statKey(path: string): Promise<string> {
  try {
    return statVersion(await stat(path));
  } catch (err) {
    return statErrorVersion(err);
  }
}

/** Every entry of the two-level tree with its stat key (the polling fallback). */
async function snapshotTree(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let top: string[];
  try {
    top = await readdir(dir);
  } catch {
    out.set(dir, 'unreadable');
    return out;
  }
  for (const name of top) {
    const path = join(dir, name);
    out.set(path, await statKey(path));
    let files: string[];
    try {
      files = await readdir(path);
    } catch {
      continue; // not a directory
    }
    for (const f of files) out.set(join(path, f), await statKey(join(path, f)));
  }
  return out;
}

export function watchDir(options: DirWatcherOptions): DirWatcher {
  const debounceMs = options.debounceMs ?? 50;
  const pollMs = options.pollMs ?? 300;
  const { dir, logger } = options;
  let closed = false;
  let mode: 'watch' | 'poll' = 'watch';
  let debounce: ReturnType<typeof setTimeout> | undefined;
  let pending = new Set<string>();
  const watchers = new Map<string, FSWatcher>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let polledFiles = new Map<string, string>();

  const later = (fn: () => void, ms: number): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      if (!closed) fn();
    }, ms);
    t.unref();
    timers.add(t);
  };

  const changed = (path: string): void => {
    if (closed) return;
    pending.add(path);
    if (debounce !== undefined) clearTimeout(debounce);
    debounce = setTimeout(() => {
      debounce = undefined;
      const batch = { paths: pending };
      pending = new Set();
      if (!closed) options.onChange(batch);
    }, debounceMs);
    debounce.unref();
  };

  const startPolling = (): void => {
    if (mode === 'poll' && watchers.size === 0) return;
    mode = 'poll';
    for (const w of watchers.values()) w.close();
    watchers.clear();
    let last: Map<string, string> | undefined;
    const poll = async (): Promise<void> => {
      const now = await snapshotTree(dir).catch(() => new Map<string, string>());
      if (last !== undefined) {
        for (const [path, key] of now) if (last.get(path) !== key) changed(path);
        for (const path of last.keys()) if (!now.has(path)) changed(path);
      }
      last = now;
      later(() => void poll(), pollMs);
    };
    void poll();
  };

  const watchOne = (path: string, onEvent: (filename: string | null) => void): boolean => {
    if (watchers.has(path)) return true;
    try {
      const w = watch(path, { persistent: false }, (_event, filename) => onEvent(filename === null ? null : String(filename)));
      w.on('error', (err) => {
        // A watched cluster directory that is deleted or replaced ends its watch: re-list DIR.
        w.close();
        watchers.delete(path);
        if (path === dir) {
          logger.warn({ err, dir }, 'watch on the directory failed; polling instead');
          startPolling();
        }
        changed(path === dir ? dir : path);
        later(syncClusterWatches, 0);
      });
      watchers.set(path, w);
      return true;
    } catch (err) {
      if (path === dir) {
        logger.warn({ err, dir }, 'directory watch unavailable, polling instead');
        startPolling();
      }
      return false;
    }
  };

  /** Watches every sub-directory of DIR (symlinked ones too) and stops watching vanished ones. */
  let syncing = false;
  let syncAgain = false;
  async function syncClusterWatches(): Promise<void> {
    if (mode === 'poll' || closed) return;
    if (syncing) {
      syncAgain = true;
      return;
    }
    syncing = true;
    try {
      do {
        syncAgain = false;
        const names = await readdir(dir).catch(() => [] as string[]);
        const subdirs = new Set<string>();
        for (const name of names) {
          const path = join(dir, name);
          const s = await stat(path).catch(() => undefined);
          if (s?.isDirectory()) subdirs.add(path);
        }
        for (const [path, w] of watchers) {
          if (path !== dir && !subdirs.has(path)) {
            w.close();
            watchers.delete(path);
          }
        }
        for (const path of subdirs) {
          if (watchers.has(path) || closed) continue;
          if (watchOne(path, (filename) => changed(filename === null ? path : join(path, filename)))) {
            // Files written before the watch existed: re-list this directory once.
            changed(path);
          }
        }
      } while (syncAgain && !closed);
    } finally {
      syncing = false;
    }
  }

  const pollLinkedFiles = async (): Promise<void> => {
    for (const [path, loaded] of polledFiles) {
      const key = await statKey(path);
      if (key !== loaded && !pending.has(path)) changed(path);
    }
    later(() => void pollLinkedFiles(), pollMs);
  };

  const watchRoot = (): void => {
    if (
      watchOne(dir, (filename) => {
        changed(filename === null ? dir : join(dir, filename));
        void syncClusterWatches();
      })
    ) {
      void syncClusterWatches();
    }
  };
  let rootIno: number | undefined;
  const resync = async (): Promise<void> => {
    const ino = (await stat(dir).catch(() => undefined))?.ino;
    if (mode === 'watch' && ino !== undefined && rootIno !== undefined && ino !== rootIno) {
      logger.info({ dir }, 'the directory was replaced: watching the new one');
      for (const w of watchers.values()) w.close();
      watchers.clear();
      watchRoot();
    }
    rootIno = ino ?? rootIno;
    changed(dir);
    later(() => void resync(), options.resyncMs ?? 30_000);
  };

  if (options.forcePolling === true) {
    startPolling();
  } else {
    watchRoot();
  }
  void stat(dir).then(
    (s) => {
      rootIno = s.ino;
      later(() => void resync(), options.resyncMs ?? 30_000);
    },
    () => later(() => void resync(), options.resyncMs ?? 30_000),
  );
  void pollLinkedFiles();

  return {
    get mode() {
      return mode;
    },
    setPolledFiles(files) {
      polledFiles = new Map(files);
    },
    close() {
      closed = true;
      for (const w of watchers.values()) w.close();
      watchers.clear();
      if (debounce !== undefined) clearTimeout(debounce);
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
}
