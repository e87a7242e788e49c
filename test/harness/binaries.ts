// Locates (and if needed builds) the real peer binaries: etcd, kube-apiserver, CoreDNS.
// test/peers/build.sh owns the versions and the build recipes; this module only runs it.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface Binaries {
  etcd: string;
  kubeApiserver: string;
  coredns: string;
}

export type PeerTool = 'etcd' | 'kube-apiserver' | 'coredns';

export interface EnsureBinariesOptions {
  /** Receives the build script's progress lines (default: written to stderr). */
  log?: (line: string) => void;
  /** Override the cache directory (default ~/.cache/clusterset-dns). */
  cacheDir?: string;
  /** Give up after this long (default 45 minutes: a cold kube-apiserver build on 2 cores). */
  timeoutMs?: number;
}

export const buildScript = fileURLToPath(new URL('../peers/build.sh', import.meta.url));

/**
 * Builds any missing binary (first run: minutes; later: well under a second) and returns their
 * paths. Concurrent callers are serialised by a lock file inside the cache directory.
 */
export async function ensureBinaries(options: EnsureBinariesOptions = {}): Promise<Binaries> {
  const paths = await runBuild(['etcd', 'kube-apiserver', 'coredns'], options);
  return { etcd: paths.get('etcd') ?? '', kubeApiserver: paths.get('kube-apiserver') ?? '', coredns: paths.get('coredns') ?? '' };
}

/** Like ensureBinaries() for one tool only (does not wait for, or start, the other builds). */
export async function ensureBinary(tool: PeerTool, options: EnsureBinariesOptions = {}): Promise<string> {
  return (await runBuild([tool], options)).get(tool) ?? '';
}

async function runBuild(tools: PeerTool[], options: EnsureBinariesOptions): Promise<Map<string, string>> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const env = { ...process.env };
  if (options.cacheDir !== undefined) env.CLUSTERSET_DNS_CACHE = options.cacheDir;
  const timeoutMs = options.timeoutMs ?? 45 * 60_000;

  const stdout = await new Promise<string>((resolve, reject) => {
    const child = spawn('bash', [buildScript, '--print', ...tools], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let errTail = '';
    let pending = '';
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`${buildScript} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk; });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      errTail = (errTail + chunk).slice(-4000);
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) if (line.startsWith('[peers/build') || line.startsWith('go version')) log(line);
    });
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${buildScript} exited with code ${code}:\n${errTail}`));
    });
  });

  const paths = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) paths.set(line.slice(0, eq), line.slice(eq + 1));
  }
  for (const tool of tools) {
    if (!paths.has(tool)) throw new Error(`${buildScript} --print did not report ${tool}`);
  }
  return paths;
}
