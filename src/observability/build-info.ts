/** clusterset_dns_build_info: which version runs, on which Node (always 1; the labels say it). */
import { Gauge } from './prom.ts';
import type { Registry as RegistryT } from 'prom-client';

export function registerBuildInfo(registry: RegistryT, version: string, command: string): void {
  const info = new Gauge({
    name: 'clusterset_dns_build_info',
    help: 'Always 1: the running version, Node.js version and command (serve, dns, agent).',
    labelNames: ['version', 'node', 'command'],
    registers: [registry],
  });
  info.set({ version, node: process.version, command }, 1);
}
