/**
 * CoreDNS in the benchmark, in two configurations (each its own process, loopback only, no `cache`
 * plugin so every query really does the work):
 * - `file`: CoreDNS answers the generated zone file itself (the same records NSD serves);
 * - `forward`: the stub block we ship in coredns/stub.Corefile (`errors` + `forward`) pointed at our
 *   server, i.e. the path a pod's query takes in a cluster, CoreDNS in front of us.
 * Start-up, readiness and stopping come from the test harness (test/harness/coredns.ts), the binary
 * from test/peers/build.sh (built once, cached) unless a path is given.
 */
import { ensureBinary } from '../test/harness/binaries.ts';
import { startCoreDNS, type CoreDNSInstance, type CoreDNSPorts } from '../test/harness/coredns.ts';

export type CoreDnsMode = { kind: 'file'; zone: string; zoneFile: string } | { kind: 'forward'; zone: string; upstreamPort: number };

/** The Corefile for one mode; `ready` lets start-up be awaited and does not touch the query path. */
export function benchCorefile(mode: CoreDnsMode, ports: Pick<CoreDNSPorts, 'dns' | 'ready'>): string {
  const body =
    mode.kind === 'file'
      ? [`    file ${mode.zoneFile} ${mode.zone}`]
      : ['    errors', `    forward . 127.0.0.1:${mode.upstreamPort}`];
  return [`${mode.zone}:${ports.dns} {`, '    bind 127.0.0.1', `    ready 127.0.0.1:${ports.ready}`, ...body, '}', ''].join('\n');
}

/** One line saying which config was measured (ports elided; `ready` left out: not on the query path). */
export function describeCorefile(mode: CoreDnsMode): string {
  const body = mode.kind === 'file' ? `file <zone file> ${mode.zone}` : `errors; forward . 127.0.0.1:<ours>`;
  return `${mode.zone}:<port> { bind 127.0.0.1; ${body} }  (no cache plugin)`;
}

export function corednsBinary(explicit: string | undefined, log: (line: string) => void): Promise<string> {
  if (explicit !== undefined) return Promise.resolve(explicit);
  log('locating CoreDNS (test/peers/build.sh coredns: instant when cached, minutes on a first build)');
  return ensureBinary('coredns', { log });
}

/** `dir` must be this instance's own directory (its Corefile path identifies the process). */
export function startBenchCoreDns(binary: string, dir: string, mode: CoreDnsMode): Promise<CoreDNSInstance> {
  return startCoreDNS({ binary, dir, corefile: (ports) => benchCorefile(mode, ports), readyTimeoutMs: 60_000 });
}
