/**
 * Runs dnsperf against one server and reads back QPS and latency. dnsperf 2.10 (Debian 12) has no
 * latency histogram option, so it runs with `-v`, which prints one line per answered query with its
 * latency (`> NOERROR name A 0.000123`); average and p99 come from those lines. The same flags are
 * used for every server. Those lines go to a file and are read after dnsperf exits: parsing tens of
 * thousands of lines a second while the run is timed would take CPU from the servers being measured
 * on a 2-core machine (more from the faster ones).
 */
import { spawn } from 'node:child_process';
import { closeSync, createReadStream, openSync, rmSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';

export interface DnsperfResult {
  qps: number;
  sent: number;
  completed: number;
  lost: number;
  avgLatencyMs: number;
  p99LatencyMs: number;
  rcodes: string;
  /** Raw material for combining several runs (see combineRuns). */
  runTimeS: number;
  histogram: Uint32Array;
  latencyCount: number;
  latencySumS: number;
}

export interface DnsperfOptions {
  port: number;
  queryFile: string;
  durationS: number;
  clients: number;
  outstanding: number;
  threads: number;
  /** Where dnsperf's per-query output is written (and removed after reading). */
  scratchDir: string;
  /** Stop after this many passes through the query file (used for the warm-up pass). */
  maxRuns?: number;
}

/** Latency histogram in 1 µs buckets up to 1 s (overflow in the last bucket). */
const BUCKETS = 1_000_001;

export function runDnsperf(options: DnsperfOptions, onChild: (kill: () => void) => void): Promise<DnsperfResult> {
  const args = [
    '-s', '127.0.0.1',
    '-p', String(options.port),
    '-d', options.queryFile,
    '-l', String(options.durationS),
    '-c', String(options.clients),
    '-q', String(options.outstanding),
    '-T', String(options.threads),
    '-t', '2',
    '-v',
    ...(options.maxRuns === undefined ? [] : ['-n', String(options.maxRuns)]),
  ];
  const outFile = path.join(options.scratchDir, `dnsperf-${options.port}-${Date.now()}.out`);
  return new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const outFd = openSync(outFile, 'w');
    const child = spawn('dnsperf', args, { stdio: ['ignore', outFd, 'pipe'] });
    closeSync(outFd);
    onChild(() => child.kill('SIGKILL'));
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  })
    .then(({ code, stderr }) => readOutput(outFile, code, stderr))
    .finally(() => rmSync(outFile, { force: true }));
}

async function readOutput(outFile: string, code: number | null, stderr: string): Promise<DnsperfResult> {
  const histogram = new Uint32Array(BUCKETS);
  let count = 0;
  let sumSeconds = 0;
  const summary: string[] = [];
  const lines = createInterface({ input: createReadStream(outFile), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.startsWith('> ')) {
      const seconds = Number(line.slice(line.lastIndexOf(' ') + 1));
      if (Number.isFinite(seconds)) {
        histogram[Math.min(BUCKETS - 1, Math.round(seconds * 1e6))]!++;
        sumSeconds += seconds;
        count++;
      }
    } else {
      summary.push(line);
    }
  }
  const text = summary.join('\n');
  const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
  if (code !== 0 || !/Queries per second/.test(text)) throw new Error(`dnsperf failed (exit ${code}):\n${text.slice(-4000)}\n${stderr}`);
  return {
    runTimeS: num(/Run time \(s\):\s+([\d.]+)/),
    histogram,
    latencyCount: count,
    latencySumS: sumSeconds,
    qps: num(/Queries per second:\s+([\d.]+)/),
    sent: num(/Queries sent:\s+(\d+)/),
    completed: num(/Queries completed:\s+(\d+)/),
    lost: num(/Queries lost:\s+(\d+)/),
    avgLatencyMs: count > 0 ? (sumSeconds / count) * 1000 : NaN,
    p99LatencyMs: percentile(histogram, count, 0.99) / 1000,
    rcodes: /Response codes:\s+(.*)/.exec(text)?.[1] ?? '',
  };
}

function percentile(histogram: Uint32Array, count: number, q: number): number {
  const target = Math.ceil(count * q);
  let seen = 0;
  for (let us = 0; us < histogram.length; us++) {
    seen += histogram[us]!;
    if (seen >= target) return us;
  }
  return NaN;
}

/** Several timed runs against one server as one result: total completed / total run time, merged latencies. */
export function combineRuns(runs: readonly DnsperfResult[]): DnsperfResult {
  const histogram = new Uint32Array(BUCKETS);
  let latencyCount = 0;
  let latencySumS = 0;
  let runTimeS = 0;
  let sent = 0;
  let completed = 0;
  let lost = 0;
  for (const run of runs) {
    for (let i = 0; i < BUCKETS; i++) histogram[i]! += run.histogram[i]!;
    latencyCount += run.latencyCount;
    latencySumS += run.latencySumS;
    runTimeS += run.runTimeS;
    sent += run.sent;
    completed += run.completed;
    lost += run.lost;
  }
  return {
    qps: completed / runTimeS,
    sent,
    completed,
    lost,
    avgLatencyMs: latencyCount > 0 ? (latencySumS / latencyCount) * 1000 : NaN,
    p99LatencyMs: percentile(histogram, latencyCount, 0.99) / 1000,
    rcodes: runs.map((r) => r.rcodes).at(-1) ?? '',
    runTimeS,
    histogram,
    latencyCount,
    latencySumS,
  };
}
