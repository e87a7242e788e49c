// Vitest globalSetup: one broker and two member clusters (east, west) for the whole run, shared by
// every test file through `inject('clusterset')` (use useClusterSet() from ./vitest.ts).
// Wire it in vitest.config.ts:  test: { globalSetup: ['test/harness/global-setup.ts'] }
import type { TestProject } from 'vitest/node';
import { startClusters } from './clusters.ts';
import type { ClusterSetInfo } from './clusters.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    clusterset: ClusterSetInfo;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = (line: string) => process.stderr.write(`[harness] ${line}\n`);
  const set = await startClusters({ names: ['east', 'west'], broker: true, log });
  const memory = set.memory();
  log(`memory: ${Object.entries(memory).map(([k, v]) => `${k} ${v === undefined ? '-' : Math.round(v / 1048576)} MiB`).join(', ')}`);
  project.provide('clusterset', set.info());
  return async () => {
    await set.stop();
  };
}
