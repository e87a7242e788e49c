/**
 * Metrics of the embedded default (`serve`): the problems of the loaded files and the reloads.
 * Labels are a fixed set (severity, outcome), never a file name.
 */
import type { Registry as RegistryT } from 'prom-client';
import { Counter, Gauge } from './prom.ts';

export interface EmbeddedMetrics {
  /** The current problems of the files, by severity (every call replaces the previous counts). */
  setFileProblems(problems: readonly { severity: 'error' | 'warning' }[]): void;
  reloaded(outcome: 'ok' | 'error', filesRead: number): void;
}

export function createEmbeddedMetrics(registry: RegistryT): EmbeddedMetrics {
  const problems = new Gauge({
    name: 'clusterset_dns_embedded_file_problems',
    help: 'Problems in the --from-dir files (syntax errors, invalid objects; fail static keeps their last good version), by severity.',
    labelNames: ['severity'],
    registers: [registry],
  });
  const reloads = new Counter({
    name: 'clusterset_dns_embedded_reloads_total',
    help: 'Reloads of the --from-dir files, by outcome.',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const filesRead = new Counter({
    name: 'clusterset_dns_embedded_files_read_total',
    help: 'Manifest files (re)read by reloads: only changed files are read.',
    registers: [registry],
  });
  problems.set({ severity: 'error' }, 0);
  problems.set({ severity: 'warning' }, 0);
  return {
    setFileProblems(list) {
      problems.set({ severity: 'error' }, list.filter((p) => p.severity === 'error').length);
      problems.set({ severity: 'warning' }, list.filter((p) => p.severity === 'warning').length);
    },
    reloaded(outcome, count) {
      reloads.inc({ outcome });
      filesRead.inc(count);
    },
  };
}
