// npm run clusters -- up|down|status|build   (see test/harness/README.md)
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { ensureBinaries } from './binaries.ts';
import { clusterStatus, startClusters, stopClustersInDir } from './clusters.ts';

const USAGE = `Usage:
  npm run clusters -- up --clusters east,west [--broker] [--broker-name NAME] [--dir DIR] [--no-manifests] [--timeout SECONDS]
  npm run clusters -- down [--dir DIR]
  npm run clusters -- status [--dir DIR] [--json]
  npm run clusters -- build
DIR defaults to .clusters (git-ignored).`;

function mib(bytes: number | undefined): string {
  return bytes === undefined ? '-' : `${(bytes / 1048576).toFixed(0)} MiB`;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      clusters: { type: 'string' },
      broker: { type: 'boolean', default: false },
      'broker-name': { type: 'string' },
      dir: { type: 'string', default: '.clusters' },
      'no-manifests': { type: 'boolean', default: false },
      timeout: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  const dir = resolve(values.dir);
  const log = (line: string) => process.stderr.write(`${line}\n`);

  switch (command) {
    case 'build': {
      const binaries = await ensureBinaries({ log });
      process.stdout.write(`${JSON.stringify(binaries, null, 2)}\n`);
      return 0;
    }
    case 'up': {
      if (values.clusters === undefined) throw new Error('up needs --clusters NAME[,NAME...]');
      const names = values.clusters.split(',').map((s) => s.trim()).filter((s) => s !== '');
      let readyTimeoutMs: number | undefined;
      if (values.timeout !== undefined) {
        const seconds = Number(values.timeout);
        if (!Number.isFinite(seconds) || seconds <= 0) throw new Error(`--timeout must be a positive number of seconds, got '${values.timeout}'`);
        readyTimeoutMs = seconds * 1000;
      }
      const set = await startClusters({
        names,
        broker: values.broker,
        ...(values['broker-name'] !== undefined ? { brokerName: values['broker-name'] } : {}),
        dir,
        applyManifests: !values['no-manifests'],
        detached: true,
        ...(readyTimeoutMs !== undefined ? { readyTimeoutMs } : {}),
        log,
      });
      const memory = set.memory();
      for (const c of set.clusters) {
        process.stdout.write(`${c.name.padEnd(12)} ${c.role.padEnd(7)} ${c.server.padEnd(24)} ${mib(memory[`apiserver ${c.name}`]).padStart(8)}  KUBECONFIG=${c.kubeconfigPath}\n`);
      }
      process.stdout.write(`etcd         ${set.etcdEndpoint.padEnd(32)} ${mib(memory.etcd).padStart(8)}\n`);
      return 0;
    }
    case 'down': {
      const results = await stopClustersInDir(dir);
      if (results.length === 0) process.stdout.write(`nothing was started in ${dir}\n`);
      for (const r of results) process.stdout.write(`${r.name.padEnd(20)} pid ${String(r.pid).padEnd(8)} ${r.outcome}\n`);
      return 0;
    }
    case 'status': {
      const status = clusterStatus(dir);
      if (values.json) {
        process.stdout.write(`${JSON.stringify(status ?? null, null, 2)}\n`);
        return status === undefined ? 1 : 0;
      }
      if (status === undefined) {
        process.stdout.write(`nothing was started in ${dir}\n`);
        return 1;
      }
      process.stdout.write(`started ${status.startedAt}, etcd ${status.etcdEndpoint}\n`);
      for (const p of status.processes) {
        const cluster = status.clusters.find((c) => p.name === `apiserver ${c.name}`);
        process.stdout.write(`${p.name.padEnd(20)} pid ${String(p.pid).padEnd(8)} ${(p.running ? 'running' : 'stopped').padEnd(8)} ${mib(p.residentBytes).padStart(8)}  ${cluster ? `${cluster.server}  KUBECONFIG=${cluster.kubeconfigPath}` : ''}\n`);
      }
      return status.processes.every((p) => p.running) ? 0 : 1;
    }
    default:
      process.stderr.write(`unknown command '${command}'\n${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
