/**
 * The room rules from DESIGN.md, checked on the source text so that a stray import fails CI
 * instead of slowly eroding the layering.
 */
import { execFileSync } from 'node:child_process';
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
  const specs = [
    ...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm),
    // Side-effect imports (`import './x.ts';`) and dynamic ones.
    ...text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm),
    ...text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((m) => m[1]!);
  return specs.map((spec) =>
    spec.startsWith('.') ? { file: rel, room, spec, target: relative(SRC, resolve(dirname(file), spec)) } : { file: rel, room, spec },
  );
}

const files = sourceFiles(SRC).map((f) => relative(SRC, f));
const all = sourceFiles(SRC).flatMap(importsOf);
const roomOf = (target: string): string => (target.includes('/') ? target.split('/')[0]! : '(root)');

/** The import graph of src/: file → the files it imports (type imports included: a knot of types is still a knot). */
function importGraph(imports: readonly Import[]): Map<string, string[]> {
  const graph = new Map<string, string[]>(files.map((f) => [f, []]));
  for (const i of imports) if (i.target !== undefined) graph.get(i.file)!.push(i.target);
  return graph;
}

/** Every strongly connected component with more than one file, or a file importing itself (Tarjan). */
function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    for (let w = stack.pop()!; ; w = stack.pop()!) {
      onStack.delete(w);
      component.push(w);
      if (w === v) break;
    }
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(component.sort());
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return cycles;
}

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

  it('server/ never imports kube/ or agent/ (the DNS side depends on the model only)', () => {
    expect(all.filter((i) => i.room === 'server' && i.target !== undefined && ['kube', 'agent'].includes(roomOf(i.target)))).toEqual([]);
  });

  it('only observability/ imports prom-client', () => {
    expect(all.filter((i) => (i.spec === 'prom-client' || i.spec.startsWith('prom-client/')) && i.room !== 'observability')).toEqual([]);
  });

  it('cli/ is the top: nothing else imports it, and it wires no reconciler or socket itself (runtime/ does)', () => {
    expect(all.filter((i) => i.target !== undefined && roomOf(i.target) === 'cli' && i.room !== 'cli')).toEqual([]);
    expect(all.filter((i) => i.room === 'cli' && i.target !== undefined && ['agent', 'server'].includes(roomOf(i.target)))).toEqual([]);
  });

  it('every relative import resolves to a source file (so the graph below is the real one)', () => {
    expect(all.filter((i) => i.target !== undefined && !files.includes(i.target))).toEqual([]);
  });

  it('no import cycles anywhere in src/', () => {
    expect(findCycles(importGraph(all))).toEqual([]);
  });

  it('the cycle check finds cycles (a check that cannot fail proves nothing)', () => {
    const graph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['d.ts']],
      ['e.ts', ['a.ts']],
    ]);
    expect(findCycles(graph)).toEqual([['a.ts', 'b.ts', 'c.ts'], ['d.ts']]);
  });

  it('nothing reads process.env but the CLI entry (config receives values)', () => {
    const readers = sourceFiles(SRC)
      .filter((f) => /process\.env\b/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(SRC, f));
    expect(readers.filter((f) => f !== 'cli/main.ts')).toEqual([]);
  });

  /**
   * Loads `module` in a fresh Node process, runs `then` (a statement using the module's namespace as
   * `m`), and counts the modules it pulled in whose path holds `marker` (a resolve hook sees every
   * import and require, static and dynamic, type imports erased as at run time).
   */
  function modulesLoadedBy(module: string, marker: string, then = ''): number {
    const probe = [
      "import { registerHooks } from 'node:module';",
      'let n = 0;',
      `registerHooks({ resolve(spec, ctx, next) { const r = next(spec, ctx); if (r.url.includes(${JSON.stringify(marker)})) n++; return r; } });`,
      `const m = await import(${JSON.stringify(join(SRC, module))});`,
      then,
      'process.stdout.write(String(n));',
    ].join('\n');
    return Number(execFileSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8', timeout: 60_000 }));
  }
  const clientNodeModulesLoadedBy = (module: string): number => modulesLoadedBy(module, '/@kubernetes/client-node/');

  it('the long-running commands (agent, dns, serve) never load client-node: it costs each process ~85 MiB', () => {
    for (const module of ['cli/main.ts', 'cli/agent-command.ts', 'cli/dns-command.ts', 'cli/serve-command.ts']) {
      expect({ module, loaded: clientNodeModulesLoadedBy(module) }).toEqual({ module, loaded: 0 });
    }
    // The probe sees client-node where it is loaded (the doctor uses its typed APIs).
    expect(clientNodeModulesLoadedBy('cli/doctor.ts')).toBeGreaterThan(10);
  }, 120_000);

  it('no process loads OpenTelemetry (prom-client\'s index does, for its CPU metric: ~11 MiB RSS each)', () => {
    for (const module of ['cli/main.ts', 'cli/agent-command.ts', 'cli/dns-command.ts', 'cli/serve-command.ts', 'observability/metrics.ts', 'server/responder.ts']) {
      expect({ module, loaded: modulesLoadedBy(module, '/@opentelemetry/') }).toEqual({ module, loaded: 0 });
    }
    // Registering the process metrics loads prom-client's default-metric modules, still not OpenTelemetry.
    const registering = 'm.collectProcessMetrics(new m.Registry());';
    expect(modulesLoadedBy('observability/prom.ts', '/prom-client/lib/metrics/', registering)).toBeGreaterThan(5);
    expect(modulesLoadedBy('observability/prom.ts', '/@opentelemetry/', registering)).toBe(0);
    // The probe sees OpenTelemetry where it is loaded (the worker entry, forked only by a primary, imports
    // the metrics module checked above).
    expect(modulesLoadedBy('observability/prom.ts', '/@opentelemetry/', "m.Registry; await import('prom-client');")).toBeGreaterThan(5);
  }, 120_000);
});

