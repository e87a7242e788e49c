// A real CoreDNS (the slim build from test/peers/build.sh) for tests, on 127.0.0.1 ports chosen here.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ensureBinary } from './binaries.ts';
import { LOOPBACK, freeDnsPort, freePort, httpGet, sleep } from './net.ts';
import { isRunning, logTail, residentBytes, startProcess, stopProcess, type ProcessRecord } from './procs.ts';

export interface CoreDNSPorts {
  /** UDP and TCP port of the DNS listener. */
  dns: number;
  /** For `health 127.0.0.1:{health}`. */
  health: number;
  /** For `ready 127.0.0.1:{ready}`. */
  ready: number;
  /** For `prometheus 127.0.0.1:{metrics}`. */
  metrics: number;
}

export interface StartCoreDNSOptions {
  /**
   * The Corefile, given the ports. Every server block should `bind 127.0.0.1` and listen on
   * `.:{dns}` (or `zone:{dns}`); include `ready 127.0.0.1:{ready}` so start-up can be awaited.
   */
  corefile: (ports: CoreDNSPorts) => string;
  /** Working directory (Corefile, log, zone files). Default: a new temporary directory. */
  dir?: string;
  /** Extra files written into `dir` before start (e.g. zone files), by name. */
  files?: Record<string, string>;
  /** Default: ensureBinary('coredns'). */
  binary?: string;
  readyTimeoutMs?: number;
}

export interface CoreDNSInstance {
  ports: CoreDNSPorts;
  dir: string;
  corefilePath: string;
  logFile: string;
  pid: number;
  residentBytes(): number | undefined;
  /** The log so far (CoreDNS prints its errors and, with `log`, every query). */
  log(): string;
  stop(options?: { keepDir?: boolean }): Promise<void>;
}

/** Starts CoreDNS and waits for its start-up banner (all servers listen) and, if used, /ready. */
export async function startCoreDNS(options: StartCoreDNSOptions): Promise<CoreDNSInstance> {
  const binary = options.binary ?? (await ensureBinary('coredns'));
  const ownDir = options.dir === undefined;
  const dir = resolve(options.dir ?? mkdtempSync(join(tmpdir(), 'clusterset-dns-coredns-')));
  mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(options.files ?? {})) writeFileSync(join(dir, name), content);
  const ports: CoreDNSPorts = { dns: await freeDnsPort(), health: await freePort(), ready: await freePort(), metrics: await freePort() };
  const corefile = options.corefile(ports);
  const corefilePath = join(dir, 'Corefile');
  writeFileSync(corefilePath, corefile);
  const logFile = join(dir, 'coredns.log');
  const record: ProcessRecord = startProcess({
    name: 'coredns',
    binary,
    marker: corefilePath,
    logFile,
    detached: false,
    args: ['-conf', corefilePath],
    // CoreDNS resolves relative file names (zone files) against its working directory.
    cwd: dir,
  });
  const usesReady = corefile.includes(`:${ports.ready}`);
  const timeoutMs = options.readyTimeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  try {
    // The banner is printed once every server listens; /ready can answer 200 earlier (before slow
    // plugins such as kubernetes have registered for readiness), so wait for both.
    let bannerSeen = false;
    for (;;) {
      if (!isRunning(record)) throw new Error(`CoreDNS exited during start-up; log:\n${logTail(logFile)}`);
      bannerSeen ||= /^CoreDNS-\d/m.test(logTail(logFile, 20_000));
      if (bannerSeen) {
        if (!usesReady) break;
        try {
          const res = await httpGet(`http://${LOOPBACK}:${ports.ready}/ready`, { timeoutMs: 1000 });
          if (res.status === 200) break;
        } catch { /* not listening yet */ }
      }
      if (Date.now() > deadline) throw new Error(`CoreDNS not ready within ${timeoutMs} ms; log:\n${logTail(logFile)}`);
      await sleep(50);
    }
  } catch (err) {
    await stopProcess(record, 2000);
    throw err;
  }
  return {
    ports,
    dir,
    corefilePath,
    logFile,
    pid: record.pid,
    residentBytes: () => residentBytes(record.pid),
    log: () => logTail(logFile, 1_000_000),
    async stop(stopOptions?: { keepDir?: boolean }): Promise<void> {
      await stopProcess(record, 5000);
      if (ownDir && stopOptions?.keepDir !== true) rmSync(dir, { recursive: true, force: true });
    },
  };
}
