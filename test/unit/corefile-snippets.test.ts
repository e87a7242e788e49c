// The Corefile snippets shipped in coredns/ are what `clusterset-dns coredns install` writes: the
// same renderer produces them, so documentation and tool cannot drift apart.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { installStub, parseCorefile, renderStubBlock, zoneRouting } from '../../src/corefile/index.ts';

const DIR = resolve(import.meta.dirname, '../../coredns');
const PLACEHOLDER = '{$CLUSTERSET_DNS_SERVICE_IP}';
const read = (name: string) => readFileSync(resolve(DIR, name), 'utf8');
/** The file without its leading comment lines. */
const body = (text: string) => text.replace(/^(#.*\n)+/, '');

describe('coredns/ snippets', () => {
  it('stub.Corefile is the block install adds to CoreDNS', () => {
    expect(body(read('stub.Corefile'))).toBe(renderStubBlock({ zone: 'clusterset.local', port: 53, upstreams: [PLACEHOLDER] }));
  });

  it('nodelocaldns-stub.Corefile is the block install adds to NodeLocal DNS (iptables mode)', () => {
    expect(body(read('nodelocaldns-stub.Corefile'))).toBe(
      renderStubBlock({ zone: 'clusterset.local', port: 53, upstreams: [PLACEHOLDER], bind: ['169.254.20.10', '10.96.0.10'], forceTcp: true }),
    );
  });

  it('Corefile.example is the kubeadm Corefile after install', () => {
    const example = read('Corefile.example');
    const kubeadm = example.slice(0, example.indexOf('# BEGIN clusterset-dns'));
    expect(installStub(kubeadm, { zone: 'clusterset.local', upstreams: [PLACEHOLDER] }).text).toBe(example);
    expect(zoneRouting(example, 'clusterset.local')).toMatchObject({ managed: true, upstreams: [PLACEHOLDER], others: [] });
    expect(parseCorefile(example).blocks.map((b) => b.keys.map((k) => k.raw))).toEqual([['.:53'], ['clusterset.local:53']]);
  });
});
