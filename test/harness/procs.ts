// Child processes of the harness: started with their output in a log file, recognised later by
// PID *and* command line (a stale PID that now belongs to another program is never signalled),
// stopped with SIGTERM, then SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, statSync, readSync } from 'node:fs';
import { sleep } from './net.ts';

export interface ProcessRecord {
  /** What it is, e.g. "etcd" or "apiserver east". */
  name: string;
  pid: number;
  /** Executable path; together with `marker` identifies the process in /proc. */
  binary: string;
  /** A string that appears in the process's command line (the harness directory). */
  marker: string;
  logFile: string;
}

export interface StartOptions {
  name: string;
  binary: string;
  args: string[];
  logFile: string;
  marker: string;
  /** Own process group, survives the parent (used by the CLI `up`). */
  detached: boolean;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

// PIDs started by this Node process that are still meant to run: killed if it exits abruptly.
const owned = new Set<number>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pid of owned) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    }
  });
}

/** The parent's environment without proxy settings: every peer talks to 127.0.0.1 only. */
export function loopbackEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(base)) {
    if (!/^(http|https|all|no)_proxy$/i.test(key)) env[key] = value;
  }
  env.NO_PROXY = '127.0.0.1,localhost';
  return env;
}

export function startProcess(options: StartOptions): ProcessRecord {
  const fd = openSync(options.logFile, 'a');
  try {
    const child = spawn(options.binary, options.args, {
      stdio: ['ignore', fd, fd],
      detached: options.detached,
      env: options.env ?? loopbackEnv(),
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    });
    if (child.pid === undefined) throw new Error(`could not start ${options.binary}`);
    // Reap the child if it exits while we run; never keep the event loop alive for it.
    child.on('error', () => {});
    child.unref();
    if (!options.detached) {
      owned.add(child.pid);
      installExitHook();
    }
    return { name: options.name, pid: child.pid, binary: options.binary, marker: options.marker, logFile: options.logFile };
  } finally {
    closeSync(fd);
  }
}

/** True when `record.pid` is alive and still the process the harness started. */
export function isRunning(record: ProcessRecord): boolean {
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${record.pid}/cmdline`, 'utf8');
  } catch {
    return false;
  }
  if (cmdline === '') return false; // zombie
  const argv = cmdline.split('\0');
  if (argv[0] !== record.binary) return false;
  if (!cmdline.includes(record.marker)) return false;
  try {
    const stat = readFileSync(`/proc/${record.pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
  } catch {
    return false;
  }
  return true;
}

/** Resident memory in bytes, or undefined if the process is gone. */
export function residentBytes(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match?.[1] !== undefined ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL and wait for the PID to disappear. */
export async function stopProcess(record: ProcessRecord, graceMs = 10_000): Promise<'not-running' | 'terminated' | 'killed'> {
  if (!isRunning(record)) {
    owned.delete(record.pid);
    return 'not-running';
  }
  try { process.kill(record.pid, 'SIGTERM'); } catch { /* raced with exit */ }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isRunning(record)) {
      owned.delete(record.pid);
      return 'terminated';
    }
    await sleep(50);
  }
  try { process.kill(record.pid, 'SIGKILL'); } catch { /* raced with exit */ }
  const killDeadline = Date.now() + 5000;
  while (isRunning(record) && Date.now() < killDeadline) await sleep(50);
  owned.delete(record.pid);
  return 'killed';
}

/** The last `bytes` of a log file, for error messages. */
export function logTail(file: string, bytes = 3000): string {
  try {
    const size = statSync(file).size;
    const start = Math.max(0, size - bytes);
    const fd = openSync(file, 'r');
    try {
      const buffer = Buffer.alloc(size - start);
      readSync(fd, buffer, 0, buffer.length, start);
      return buffer.toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return '(no log)';
  }
}

/**
 * Stops a child this process spawned: SIGTERM, then SIGKILL if it has not exited within `graceMs`.
 * Returns once it exited (or the SIGKILL was sent); a child that already exited is left alone.
 */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  if (exited()) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([gone, sleep(graceMs)]);
  if (!exited()) child.kill('SIGKILL');
}
