/**
 * Resident memory of a process and of each of its descendants (Linux /proc), so that a benchmark
 * can print the primary and every DNS worker apart: VmRSS (now) and VmHWM (the peak so far).
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcessMemory {
  pid: number;
  /** 0 for the root process, 1 for its children, … */
  depth: number;
  rssBytes: number;
  peakBytes: number;
  /**
   * The private part of rssBytes (heap, stacks, malloc). The rest is file-backed, mostly the node
   * binary's pages (~45 MiB in a DNS worker), which every process counts in its own RSS although
   * the kernel holds them once for all.
   */
  anonBytes: number;
}

function field(status: string, name: string): number {
  const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

function parentsMap(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name may hold spaces and parentheses: fields start after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid);
      if (list) list.push(Number(entry));
      else children.set(ppid, [Number(entry)]);
    } catch {
      // exited meanwhile
    }
  }
  return children;
}

/** The root first, then its descendants depth-first; processes that exited meanwhile are left out. */
export function processTreeMemory(rootPid: number): ProcessMemory[] {
  const children = parentsMap();
  const out: ProcessMemory[] = [];
  const visit = (pid: number, depth: number): void => {
    if (depth > 4) return; // our trees are a primary and its workers; a bound keeps a cycle (pid reuse) harmless
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      out.push({ pid, depth, rssBytes: field(status, 'VmRSS'), peakBytes: field(status, 'VmHWM'), anonBytes: field(status, 'RssAnon') });
    } catch {
      return;
    }
    for (const child of children.get(pid) ?? []) visit(child, depth + 1);
  };
  visit(rootPid, 0);
  return out;
}

export const mib = (bytes: number): string => (bytes / 1048576).toFixed(0);
