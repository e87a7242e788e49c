/**
 * Headless Debian chromium driven over the DevTools protocol, for the status-page test: one page,
 * loopback only, a fresh profile, every background service off. `evaluate` runs an expression in
 * the page and returns its value. Everything is stopped by close(), also after a failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopChild } from '../harness/procs.ts';

export const CHROMIUM = '/usr/bin/chromium';

export interface Page {
  evaluate<T>(expression: string): Promise<T>;
  close(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function openPage(url: string, timeoutMs = 60_000): Promise<Page> {
  const profile = mkdtempSync(join(tmpdir(), 'csdns-chromium-'));
  const child: ChildProcess = spawn(
    CHROMIUM,
    ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      `--user-data-dir=${profile}`, '--remote-debugging-address=127.0.0.1', '--remote-debugging-port=0', url],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-5_000)));
  let socket: WebSocket | undefined;
  const close = async (): Promise<void> => {
    socket?.close();
    await stopChild(child, 5_000);
    rmSync(profile, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + timeoutMs;
    let port: string | undefined;
    while (port === undefined) {
      if (child.exitCode !== null) throw new Error(`chromium exited (${child.exitCode}): ${stderr}`);
      if (Date.now() > deadline) throw new Error(`chromium did not open its DevTools port: ${stderr}`);
      try {
        // Chromium may not have finished writing the file: take the port only once it is a number.
        const first = readFileSync(join(profile, 'DevToolsActivePort'), 'utf8').split('\n')[0] ?? '';
        if (/^\d+$/.test(first)) port = first;
        else await sleep(100);
      } catch {
        await sleep(100);
      }
    }
    let target: { webSocketDebuggerUrl: string } | undefined;
    while (target === undefined) {
      if (Date.now() > deadline) throw new Error('chromium opened no page');
      const list = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{ type: string; url: string; webSocketDebuggerUrl: string }>;
      target = list.find((t) => t.type === 'page' && t.url.startsWith(url));
      if (target === undefined) await sleep(100);
    }
    const ws = new WebSocket(target.webSocketDebuggerUrl);
    socket = ws;
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener('open', () => resolve(), { once: true });
      ws.addEventListener('error', () => reject(new Error('DevTools socket failed')), { once: true });
    });
    let nextId = 1;
    const pending = new Map<number, (message: { result?: { result?: { value?: unknown }; exceptionDetails?: unknown }; error?: { message: string } }) => void>();
    ws.addEventListener('message', (event) => {
      const message = JSON.parse(String(event.data)) as { id?: number };
      if (message.id !== undefined) pending.get(message.id)?.(message as never);
    });
    return {
      evaluate<T>(expression: string): Promise<T> {
        const id = nextId++;
        return new Promise<T>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('evaluate timed out')), 10_000);
          pending.set(id, (message) => {
            clearTimeout(timer);
            pending.delete(id);
            if (message.error !== undefined) reject(new Error(message.error.message));
            else resolve(message.result?.result?.value as T);
          });
          ws.send(JSON.stringify({ id, method: 'Runtime.evaluate', params: { expression, returnByValue: true } }));
        });
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
