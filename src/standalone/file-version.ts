/**
 * The version of a file as stat sees it. The inode is part of it: a rename over the file (an
 * editor's save, `sed -i`, `git checkout`) gives a new inode even when size and mtime match.
 * Loader and watcher share it, so the watcher can compare a polled file with what was loaded.
 */
import type { Stats } from 'node:fs';

export function statVersion(s: Stats): string {
  return `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
}

export function statErrorVersion(err: unknown): string {
  return `error:${(err as NodeJS.ErrnoException | undefined)?.code ?? 'unknown'}`;
}
