/**
 * A member cluster's data path for integration tests: a network namespace of the test's own, a
 * veth pair between it and this namespace (10.254.N.1 here, 10.254.N.2 inside, a /30 that only
 * this pair routes), and a probe responder (a TCP listener, in a Node process) inside. `cut()`
 * sets the inner end down: the route stays on the veth, so probes time out there and no packet
 * takes another way. `close()` removes the responder and the namespace (and with it both veth
 * ends); `removeStaleDataPaths()` clears what a killed run left. Needs root and `ip` (iproute2).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

/** Every namespace and link a test creates starts with this (removeStaleDataPaths finds them). */
export const NETNS_PREFIX = 'csdnst';

function ip(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  if (r.error !== undefined) throw new Error(`ip ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')} exited ${r.status}: ${r.stderr.trim()}`);
}

/** Why data paths cannot be built here, or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root (this test runs as uid ' + String(process.getuid?.()) + ')';
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error !== undefined) return `ip (iproute2) cannot run: ${r.error.message}`;
  if (r.status !== 0) return `ip netns list failed: ${r.stderr.trim()}`;
  return undefined;
}

export function removeStaleDataPaths(): void {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 10_000 });
  for (const line of (r.stdout ?? '').split('\n')) {
    const name = line.trim().split(/\s+/)[0];
    if (name !== undefined && name.startsWith(NETNS_PREFIX)) spawnSync('ip', ['netns', 'del', name], { timeout: 10_000 });
  }
  const links = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8', timeout: 10_000 });
  for (const m of (links.stdout ?? '').matchAll(/^\d+: ([^:@\s]+)/gm)) if (m[1]!.startsWith(NETNS_PREFIX)) spawnSync('ip', ['link', 'del', m[1]!], { timeout: 10_000 });
}

export interface DataPath {
  /** The responder's address inside the namespace. */
  address: string;
  port: number;
  /** `tcp://ADDRESS:PORT`: what the cluster announces. */
  target: string;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/** `index`: 1-250, distinct per data path of one run. */
export async function createDataPath(index: number, port = 4500): Promise<DataPath> {
  const ns = `${NETNS_PREFIX}${index}`;
  const outer = `${NETNS_PREFIX}${index}h`;
  const inner = `${NETNS_PREFIX}${index}n`;
  const address = `10.254.${index}.2`;
  let responder: ChildProcess | undefined;
  const close = async (): Promise<void> => {
    if (responder !== undefined && responder.exitCode === null && responder.signalCode === null) {
      const exited = new Promise<void>((r) => responder!.once('exit', () => r()));
      responder.kill('SIGKILL');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
    }
    // Deleting the namespace deletes the inner end, and with it the outer one.
    spawnSync('ip', ['netns', 'del', ns], { timeout: 10_000 });
    spawnSync('ip', ['link', 'del', outer], { timeout: 10_000 });
  };
  try {
    ip(['netns', 'add', ns]);
    ip(['link', 'add', outer, 'type', 'veth', 'peer', 'name', inner]);
    ip(['link', 'set', inner, 'netns', ns]);
    ip(['addr', 'add', `10.254.${index}.1/30`, 'dev', outer]);
    ip(['link', 'set', outer, 'up']);
    ip(['-n', ns, 'addr', 'add', `${address}/30`, 'dev', inner]);
    ip(['-n', ns, 'link', 'set', inner, 'up']);
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    const script = `require('node:net').createServer((s) => s.destroy()).listen(${port}, ${JSON.stringify(address)}, () => console.log('listening'))`;
    responder = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => reject(new Error(`responder in ${ns} did not start: ${err}`)), 15_000);
      responder!.stderr!.on('data', (c: Buffer) => (err += c.toString()));
      responder!.stdout!.on('data', (c: Buffer) => {
        if (c.toString().includes('listening')) {
          clearTimeout(timer);
          resolve();
        }
      });
      responder!.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`responder in ${ns} exited ${code}: ${err}`));
      });
    });
  } catch (err) {
    await close();
    throw err;
  }
  return {
    address,
    port,
    target: `tcp://${address}:${port}`,
    cut: () => ip(['-n', ns, 'link', 'set', inner, 'down']),
    restore: () => ip(['-n', ns, 'link', 'set', inner, 'up']),
    close,
  };
}
