// The README's configuration reference is what users read first: every flag and environment
// variable the code accepts must be documented there, so the two cannot drift apart silently.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AGENT_FLAGS } from '../../src/config/agent-config.ts';
import { JOIN_CONFIG_FLAGS } from '../../src/config/broker-config.ts';
import { COREDNS_FLAGS } from '../../src/config/coredns-config.ts';
import { DNS_FLAGS } from '../../src/config/dns-config.ts';
import { DOCTOR_FLAGS } from '../../src/config/doctor-config.ts';
import type { FlagSpec } from '../../src/config/flags.ts';
import { SERVE_FLAGS } from '../../src/config/serve-config.ts';
import { STATUS_FLAGS } from '../../src/config/status-config.ts';

const README = readFileSync(resolve(import.meta.dirname, '../../README.md'), 'utf8');

function flagName(s: FlagSpec): string {
  return s.kind === 'negated-bool' ? `--no-${s.name}` : `--${s.name}`;
}

describe('README configuration reference', () => {
  it.each([
    ['serve', SERVE_FLAGS],
    ['agent', AGENT_FLAGS],
    ['dns', DNS_FLAGS],
    ['coredns', COREDNS_FLAGS],
    ['doctor', DOCTOR_FLAGS],
    ['broker join-config', JOIN_CONFIG_FLAGS],
    ['status', STATUS_FLAGS],
  ] as const)('documents every %s flag and its environment variable', (_command, specs) => {
    const missing = specs.flatMap((s) => [flagName(s), ...(s.env ? [s.env] : [])]).filter((word) => !README.includes(word));
    expect(missing).toEqual([]);
  });

  it('starts with the two commands that matter on a fresh machine', () => {
    const top = README.split('\n').slice(0, 20).join('\n');
    expect(top).toContain('npm install && npm start');
    expect(top).toContain('npm install && npm test');
  });
});
