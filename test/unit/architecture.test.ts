/**
 * The room rules from DESIGN.md, checked on the source text so that a stray import fails CI
 * instead of slowly eroding the layering.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

interface Import {
  file: string; // relative to src
  room: string;
  spec: string;
  /** For relative imports: the target relative to src. */
  target?: string;
}

function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const rel = relative(SRC, file);
  const room = rel.includes('/') ? rel.split('/')[0]! : '(root)';
  const specs = [...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm), ...text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!);
  return specs.map((spec) =>
    spec.startsWith('.') ? { file: rel, room, spec, target: relative(SRC, resolve(dirname(file), spec)) } : { file: rel, room, spec },
  );
}

const all = sourceFiles(SRC).flatMap(importsOf);
const roomOf = (target: string): string => (target.includes('/') ? target.split('/')[0]! : '(root)');

describe('room import rules', () => {
  it('finds the source tree', () => {
    expect(all.length).toBeGreaterThan(20);
  });

  it('model/ imports nothing else from src and no packages', () => {
    const bad = all.filter((i) => i.room === 'model' && (i.target ? roomOf(i.target) !== 'model' : !i.spec.startsWith('node:')));
    expect(bad).toEqual([]);
  });

  it('dns/ imports only model/ and the option types of config/', () => {
    const bad = all.filter(
      (i) =>
        i.room === 'dns' &&
        (i.target ? !['dns', 'model'].includes(roomOf(i.target)) && i.target !== 'config/options.ts' : !i.spec.startsWith('node:')),
    );
    expect(bad).toEqual([]);
  });

  it('only server/ imports dns2', () => {
    expect(all.filter((i) => i.spec === 'dns2' && i.room !== 'server')).toEqual([]);
  });

  it('only kube/ imports the Kubernetes client or knows YAML', () => {
    expect(
      all.filter((i) => (i.spec.startsWith('@kubernetes/client-node') || i.spec === 'js-yaml') && i.room !== 'kube'),
    ).toEqual([]);
  });

  it('nothing reads process.env but the CLI entry (config receives values)', () => {
    const readers = sourceFiles(SRC)
      .filter((f) => /process\.env\b/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(SRC, f));
    expect(readers.filter((f) => f !== 'cli/main.ts')).toEqual([]);
  });
});
