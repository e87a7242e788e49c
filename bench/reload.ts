/**
 * Reload benchmark of the embedded default (`npm run bench:reload`): N manifest files in one
 * member cluster (one exported service per file), served as another cluster. Measures the first
 * load until every service is imported, then, for edits of 1 and of 10 files, the time from the
 * write until the change is in the imported state (directory watch → incremental reload → export
 * → import), after one untimed warm-up edit, and how many files each reload read. Prints the
 * load average with the figures.
 *
 *   node bench/reload.ts [--files 10000] [--rounds 5]
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { startEmbedded } from '../src/standalone/embedded.ts';

const { values } = parseArgs({ options: { files: { type: 'string', default: '10000' }, rounds: { type: 'string', default: '5' } } });
const FILES = Number(values.files);
const ROUNDS = Number(values.rounds);

const manifest = (i: number, ip: string): string =>
  [
    `apiVersion: v1\nkind: Service\nmetadata: { name: s${i}, namespace: shop }\nspec:\n  clusterIP: ${ip}\n  ports: [{ name: http, port: 80 }]`,
    `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: { name: s${i}-1, namespace: shop, labels: { kubernetes.io/service-name: s${i} } }\naddressType: IPv4\nendpoints: [{ addresses: [10.99.0.1] }]\nports: [{ name: http, port: 80 }]`,
    `apiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceExport\nmetadata: { name: s${i}, namespace: shop, creationTimestamp: "2024-01-01T00:00:00Z" }`,
  ].join('\n---\n') + '\n';
const ipFor = (i: number, round: number): string => `10.${100 + round}.${Math.floor(i / 250)}.${i % 250}`;

const dir = await mkdtemp(join(tmpdir(), 'csdns-bench-reload-'));
let readCounts: number[] = [];
try {
  await mkdir(join(dir, 'east'));
  await mkdir(join(dir, 'west'));
  await writeFile(join(dir, 'east/ns.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata: { name: shop }\n');
  for (let i = 0; i < FILES; i++) await writeFile(join(dir, 'west', `s${i}.yaml`), manifest(i, ipFor(i, 0)));

  const t0 = performance.now();
  const embedded = await startEmbedded({ dir, localCluster: 'east', logger: pino({ level: 'silent' }), onReload: (_o, n) => readCounts.push(n) });
  const firstLoadMs = performance.now() - t0;
  const ipOf = (i: number): string | undefined => embedded.source.current().slices.find((s) => s.name === `s${i}` && s.sourceCluster === 'west')?.endpoints[0]?.addresses[0];
  const imported = embedded.source.current().services.length;
  await new Promise((r) => setTimeout(r, 500)); // let the start-up re-check finish
  readCounts = [];

  const until = async (pred: () => boolean): Promise<void> => {
    const deadline = Date.now() + 60_000;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error('change not visible within 60 s');
      await new Promise((r) => setTimeout(r, 2));
    }
  };
  // One untimed edit first: the first reloads after start pay for JIT compilation and GC of the load.
  await writeFile(join(dir, 'west', 's0.yaml'), manifest(0, ipFor(0, 99)));
  await until(() => ipOf(0) === ipFor(0, 99));
  await new Promise((r) => setTimeout(r, 500));
  const results: { edited: number; ms: number[]; filesRead: number[] }[] = [];
  for (const edited of [1, 10]) {
    const ms: number[] = [];
    const filesRead: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      readCounts = [];
      const picked = Array.from({ length: edited }, (_, k) => (round * 997 + k * 131) % FILES);
      const tag = edited * 10 + round;
      const started = performance.now();
      for (const i of picked) await writeFile(join(dir, 'west', `s${i}.yaml`), manifest(i, ipFor(i, tag)));
      await until(() => picked.every((i) => ipOf(i) === ipFor(i, tag)));
      ms.push(performance.now() - started);
      await new Promise((r) => setTimeout(r, 200));
      filesRead.push(readCounts.reduce((a, b) => a + b, 0));
    }
    results.push({ edited, ms, filesRead });
  }
  await embedded.stop();

  const fmt = (n: number): string => n.toFixed(0);
  console.log(`reload benchmark: ${FILES} files in one cluster, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`  first load: ${fmt(firstLoadMs)} ms until all ${imported} services were imported`);
  for (const r of results) {
    const sorted = [...r.ms].sort((a, b) => a - b);
    console.log(`  edit ${r.edited} file(s): median ${fmt(sorted[Math.floor(sorted.length / 2)]!)} ms, max ${fmt(sorted[sorted.length - 1]!)} ms write → imported; files read per edit: ${r.filesRead.join(', ')}`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
