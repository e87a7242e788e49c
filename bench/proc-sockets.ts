/**
 * The TCP connections a process holds to given ports (Linux /proc): its socket inodes from
 * /proc/<pid>/fd, matched against /proc/<pid>/net/tcp{,6}. Sampled through a phase, the distinct
 * connections seen are the TLS handshakes the process paid (each new connection is one), which
 * shows whether API calls reuse their connections.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** `local port → remote port` of every established connection of `pid` to one of `ports`. */
export function connectionsTo(pid: number, ports: ReadonlySet<number>): Map<number, number> {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m !== null) inodes.add(m[1]!);
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    return new Map();
  }
  const out = new Map<number, number>();
  for (const table of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '01' || !inodes.has(f[9]!)) continue; // 01: ESTABLISHED
      const local = parseInt(f[1]!.split(':')[1]!, 16);
      const remote = parseInt(f[2]!.split(':')[1]!, 16);
      if (ports.has(remote)) out.set(local, remote);
    }
  }
  return out;
}

/** Samples the connections of some processes until stopped; counts the distinct ones and the most at once. */
export class ConnectionSampler {
  private readonly seen = new Map<string, Set<number>>();
  private readonly peak = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private readonly pids: () => ReadonlyMap<string, number>;
  private readonly ports: ReadonlySet<number>;
  private readonly everyMs: number;

  constructor(pids: () => ReadonlyMap<string, number>, ports: ReadonlySet<number>, everyMs = 200) {
    this.pids = pids;
    this.ports = ports;
    this.everyMs = everyMs;
  }

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.everyMs);
  }

  /** Per process: connections opened (distinct ones seen) and the most open at once. */
  stop(): Map<string, { opened: number; peak: number }> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.sample();
    return new Map([...this.seen].map(([name, set]) => [name, { opened: set.size, peak: this.peak.get(name) ?? 0 }]));
  }

  private sample(): void {
    for (const [name, pid] of this.pids()) {
      const now = connectionsTo(pid, this.ports);
      let set = this.seen.get(name);
      if (set === undefined) this.seen.set(name, (set = new Set()));
      // A local port is one connection (ports are not reused within one short phase).
      for (const local of now.keys()) set.add(local);
      this.peak.set(name, Math.max(this.peak.get(name) ?? 0, now.size));
    }
  }
}
