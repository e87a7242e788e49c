// The container image, proven without a Docker engine: this test reads the Dockerfile, runs its
// COPY and RUN steps stage by stage in temporary directories (WORKDIR mapped to a directory, the base
// image's Node 24 on PATH, npm's own cache standing in for the BuildKit cache mount), then starts the
// ENTRYPOINT from the run stage and queries it with dig. Change the Dockerfile and this test runs
// the new steps: the two cannot drift apart.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDig } from '../helpers/dig.ts';
import { freeDnsPort, freePort, httpGet, sleep } from '../harness/net.ts';

const REPO = resolve(import.meta.dirname, '../..');
const DOCKERFILE = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
const DOCKERIGNORE = readFileSync(join(REPO, '.dockerignore'), 'utf8');

interface Step {
  instruction: string;
  /** Flags such as --from=build or --mount=... */
  flags: string[];
  /** Arguments (JSON form parsed, shell form split on white space for COPY, kept whole for RUN). */
  args: string[];
  raw: string;
}

interface Stage {
  from: string;
  name: string | undefined;
  steps: Step[];
}

/** Dockerfile → stages: joins `\` continuations, drops comments, splits flags from arguments. */
function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let current = '';
  for (const line of text.split('\n')) {
    if (current === '' && /^\s*#/.test(line)) continue;
    if (line.trim() === '' && current === '') continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    logical.push(current + line);
    current = '';
  }
  const stages: Stage[] = [];
  for (const line of logical) {
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`cannot read Dockerfile line: ${line}`);
    const instruction = m[1]!.toUpperCase();
    let rest = m[2]!.trim();
    const flags: string[] = [];
    while (rest.startsWith('--')) {
      const end = rest.search(/\s/);
      flags.push(rest.slice(0, end));
      rest = rest.slice(end).trim();
    }
    let args: string[];
    if (rest.startsWith('[')) args = JSON.parse(rest) as string[];
    else if (instruction === 'RUN') args = [rest];
    else args = rest.split(/\s+/);
    if (instruction === 'FROM') {
      const as = args.findIndex((a) => a.toUpperCase() === 'AS');
      stages.push({ from: args[0]!, name: as >= 0 ? args[as + 1] : undefined, steps: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (stage === undefined) throw new Error(`Dockerfile: ${instruction} before FROM`);
    stage.steps.push({ instruction, flags, args, raw: line.trim() });
  }
  return stages;
}

/** True when a top-level repo path is excluded by .dockerignore (its patterns are top-level names here). */
function ignored(path: string): boolean {
  const top = path.replace(/^\.\//, '').split('/')[0]!;
  return DOCKERIGNORE.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')).some((pattern) => {
    const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
    return re.test(top);
  });
}

/** Runs a RUN line with bash (bounded: 9 minutes), rejecting with its output when it fails. */
function runShell(command: string, cwd: string, env: Record<string, string>): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', command], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => { output = (output + c).slice(-20_000); });
    child.stderr.setEncoding('utf8').on('data', (c: string) => { output = (output + c).slice(-20_000); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 9 * 60_000);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolvePromise();
      else reject(new Error(`RUN ${command} failed (${code ?? signal}):\n${output}`));
    });
  });
}

const stages = parseDockerfile(DOCKERFILE);
const runStage = stages.at(-1)!;
const steps = (stage: Stage, instruction: string) => stage.steps.filter((s) => s.instruction === instruction);

describe('Dockerfile shape', () => {
  it('builds in one stage and runs from another, both on the current Node LTS slim image', () => {
    expect(stages.length).toBe(2);
    for (const stage of stages) expect(stage.from).toMatch(/^node:24-[a-z]+-slim(@sha256:[0-9a-f]{64})?$/);
    expect(stages[0]!.name).toBe('build');
  });

  it('the build stage installs all dependencies and compiles; the run stage installs production dependencies only', () => {
    const buildRuns = steps(stages[0]!, 'RUN').map((s) => s.args[0]!);
    expect(buildRuns.some((r) => /\bnpm ci\b/.test(r) && !r.includes('--omit=dev'))).toBe(true);
    expect(buildRuns.some((r) => /\bnpm run build\b/.test(r))).toBe(true);
    const runRuns = steps(runStage, 'RUN').map((s) => s.args[0]!);
    expect(runRuns).toHaveLength(1);
    // --ignore-scripts: "prepare" runs tsc, a dev dependency that is not installed here.
    expect(runRuns[0]).toMatch(/^npm ci\b.*--omit=dev\b.*--ignore-scripts\b/);
  });

  it('the run stage takes only dist/ from the build stage, runs as a numeric non-root user, and clusterset-dns is the entrypoint', () => {
    const fromBuild = steps(runStage, 'COPY').filter((s) => s.flags.some((f) => f.startsWith('--from=')));
    expect(fromBuild.map((s) => s.args)).toEqual([['/app/dist/', 'dist/']]);
    const user = steps(runStage, 'USER').at(-1)?.args[0] ?? '';
    expect(user).toMatch(/^[1-9]\d*(:\d+)?$/);
    expect(steps(runStage, 'ENTRYPOINT').at(-1)?.args).toEqual(['/app/bin/clusterset-dns.js']);
  });

  it('nothing the Dockerfile copies from the context is excluded by .dockerignore', () => {
    const sources = stages.flatMap((st) => steps(st, 'COPY').filter((s) => !s.flags.some((f) => f.startsWith('--from='))).flatMap((s) => s.args.slice(0, -1)));
    expect(sources.length).toBeGreaterThan(3);
    for (const source of sources) {
      expect(ignored(source), `${source} is excluded by .dockerignore`).toBe(false);
      expect(existsSync(join(REPO, source)), `${source} exists in the repo`).toBe(true);
    }
  });
});

describe('Dockerfile steps, run outside Docker', () => {
  const NODE24_DIR = dirname(process.execPath);
  // Like the base image: its Node on PATH, nothing of this repo's node_modules.
  const PATH = [NODE24_DIR, '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'].join(':');
  let root: string;
  const stageDirs = new Map<string, string>();
  let runDir: string;
  let env: Record<string, string>;
  let server: ChildProcess | undefined;
  let dnsPort: number;
  let httpPort: number;
  let serverLog = '';

  /** Maps an absolute path inside the image's WORKDIR to the stage's directory. */
  function inStage(stageDir: string, workdir: string, path: string): string {
    if (!path.startsWith('/')) return join(stageDir, path);
    if (path !== workdir && !path.startsWith(`${workdir}/`)) throw new Error(`path ${path} is outside WORKDIR ${workdir}; the test cannot map it`);
    return join(stageDir, path.slice(workdir.length));
  }

  function copy(from: string, to: string, destIsDir: boolean): void {
    const source = statSync(from);
    if (source.isDirectory()) {
      // Docker copies a directory's contents into the destination.
      mkdirSync(to, { recursive: true });
      cpSync(from, to, { recursive: true });
    } else {
      const target = destIsDir ? join(to, basename(from)) : to;
      mkdirSync(dirname(target), { recursive: true });
      cpSync(from, target);
    }
  }

  beforeAll(async () => {
    expect(Number(process.versions.node.split('.')[0])).toBe(24);
    root = mkdtempSync(join(tmpdir(), 'clusterset-dns-image-'));
    for (const [index, stage] of stages.entries()) {
      const dir = join(root, stage.name ?? `stage${index}`);
      mkdirSync(dir, { recursive: true });
      if (stage.name !== undefined) stageDirs.set(stage.name, dir);
      let workdir = '/';
      const stageEnv: Record<string, string> = {};
      for (const step of stage.steps) {
        switch (step.instruction) {
          case 'WORKDIR':
            workdir = step.args[0]!;
            break;
          case 'ENV': {
            const [key, ...value] = step.args.join(' ').split('=');
            stageEnv[key!] = value.join('=');
            break;
          }
          case 'COPY': {
            const fromFlag = step.flags.find((f) => f.startsWith('--from='));
            const dest = step.args.at(-1)!;
            const destDir = inStage(dir, workdir, dest);
            const destIsDir = dest.endsWith('/') || step.args.length > 2;
            for (const source of step.args.slice(0, -1)) {
              const from = fromFlag === undefined ? join(REPO, source) : inStage(stageDirs.get(fromFlag.slice('--from='.length))!, workdir, source);
              copy(from, destDir, destIsDir);
            }
            break;
          }
          case 'RUN':
            // npm's cache on this machine stands in for the BuildKit cache mount.
            await runShell(step.args[0]!, dir, { PATH, HOME: process.env.HOME ?? '/root', npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false', ...stageEnv });
            break;
          case 'USER':
          case 'ENTRYPOINT':
          case 'CMD':
            break;
          default:
            throw new Error(`the image test does not know Dockerfile instruction ${step.instruction}; teach it or keep the Dockerfile plain`);
        }
      }
      if (index === stages.length - 1) {
        runDir = dir;
        env = { PATH, HOME: dir, ...stageEnv };
      }
    }
  }, 20 * 60_000);

  afterAll(async () => {
    if (server !== undefined && server.exitCode === null) {
      server.kill('SIGKILL');
      await new Promise((r) => server!.once('exit', r));
    }
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
  });

  it('the run stage holds production dependencies, compiled code and the launcher, and nothing else of the build', () => {
    for (const present of ['dist/cli/main.js', 'bin/clusterset-dns.js', 'node_modules/dns2', 'node_modules/@kubernetes/client-node', 'node_modules/pino', 'node_modules/prom-client', 'node_modules/lru-cache']) {
      expect(existsSync(join(runDir, present)), present).toBe(true);
    }
    for (const absent of ['src', 'test', 'node_modules/typescript', 'node_modules/vitest', 'node_modules/node', 'tsconfig.json']) {
      expect(existsSync(join(runDir, absent)), absent).toBe(false);
    }
  });

  it('the entrypoint starts the embedded default, which answers dig', async () => {
    dnsPort = await freeDnsPort();
    httpPort = await freePort();
    const entrypoint = inStage(runDir, '/app', steps(runStage, 'ENTRYPOINT').at(-1)!.args[0]!);
    server = spawn(entrypoint, ['serve', '--from-dir', 'examples/basic', '--cluster-id', 'east', '--listen', `127.0.0.1:${dnsPort}`, '--http-listen', `127.0.0.1:${httpPort}`, '--workers', '0'], {
      cwd: runDir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.stdout!.setEncoding('utf8').on('data', (c: string) => { serverLog += c; });
    server.stderr!.setEncoding('utf8').on('data', (c: string) => { serverLog += c; });
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (server.exitCode !== null) throw new Error(`the server exited (${server.exitCode}):\n${serverLog}`);
      const ready = await httpGet(`http://127.0.0.1:${httpPort}/readyz`, { timeoutMs: 1000 }).catch(() => undefined);
      if (ready?.status === 200) break;
      if (Date.now() > deadline) throw new Error(`not ready within 60 s:\n${serverLog}`);
      await sleep(200);
    }
    const viaUdp = await runDig(dnsPort, 'checkout.shop.svc.clusterset.local', 'A');
    expect(viaUdp.status).toBe('NOERROR');
    expect(viaUdp.flags).toContain('aa');
    expect(viaUdp.answer.map((r) => r.data)).toEqual(['10.255.0.30']);
    const viaTcp = await runDig(dnsPort, 'internal.shop.svc.clusterset.local', 'A', { tcp: true });
    expect(viaTcp.status).toBe('NXDOMAIN');

    server.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => server!.once('exit', (c) => r(c)));
    expect(code).toBe(0);
  }, 120_000);
});
