/**
 * Runs the real `dig` binary (bind9-dnsutils) against a server and parses what it prints: status,
 * flags, OPT pseudo-section, EDE lines and the record sections. Every run is bounded
 * (`+time=2 +tries=1` plus a process timeout) so a silent server fails a test instead of hanging it.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface DigRecord {
  /** Owner name as printed (with trailing dot, case as sent on the wire). */
  name: string;
  ttl: number;
  class: string;
  type: string;
  /** Presentation of the RDATA, fields joined by one space. */
  data: string;
}

export interface DigResult {
  status: string;
  opcode: string;
  /** Header flags as printed: qr, aa, tc, rd, ra, ... */
  flags: string[];
  /** Question lines as printed, e.g. `WeB.shop.svc.clusterset.local. IN A`. */
  question: string[];
  answer: DigRecord[];
  authority: DigRecord[];
  additional: DigRecord[];
  /** True when the response carried an OPT record. */
  opt: boolean;
  /** The EDNS `udp:` payload size of the response, when OPT is present. */
  udpSize?: number;
  ede: Array<{ code: number; text: string }>;
  /** `MSG SIZE rcvd`: the response size in bytes. */
  size: number;
  raw: string;
}

export interface DigOptions {
  host?: string;
  tcp?: boolean;
  /** Extra dig arguments, e.g. `+opcode=2`, `+noedns`, `+ignore`. */
  args?: string[];
  /** Process timeout; default 10 s (the CPU may be busy with other builds). */
  timeoutMs?: number;
}

/** `name ttl TYPE data`, the form table tests compare. */
export function showRecord(rr: DigRecord): string {
  return `${rr.name} ${rr.ttl} ${rr.type} ${rr.data}`;
}

export function runDig(port: number, name: string, type: string, options: DigOptions = {}): Promise<DigResult> {
  const args = [
    `@${options.host ?? '127.0.0.1'}`,
    '-p',
    String(port),
    name,
    type,
    '+time=2',
    '+tries=1',
    '+retry=0',
    ...(options.tcp ? ['+tcp'] : []),
    ...(options.args ?? []),
  ];
  return new Promise((resolve, reject) => {
    execFile('dig', args, { timeout: options.timeoutMs ?? 10_000, maxBuffer: 4 << 20 }, (error, stdout, stderr) => {
      // dig exits 9 when no reply came; that and any spawn failure is an error for the caller.
      if (error) {
        reject(new Error(`dig ${args.join(' ')} failed: ${error.message}\n${stdout}${stderr}`));
        return;
      }
      try {
        resolve(parseDigOutput(stdout));
      } catch (parseError) {
        reject(new Error(`cannot parse dig output for ${args.join(' ')}: ${(parseError as Error).message}\n${stdout}`));
      }
    });
  });
}

function parseRecord(line: string): DigRecord {
  const fields = line.trim().split(/\s+/);
  if (fields.length < 4) throw new Error(`not a record line: ${line}`);
  const [name, ttl, klass, type, ...data] = fields as [string, string, string, string, ...string[]];
  return { name, ttl: Number(ttl), class: klass, type, data: data.join(' ') };
}

export function parseDigOutput(text: string): DigResult {
  const header = /->>HEADER<<- opcode: (\S+), status: (\S+), id: \d+/.exec(text);
  const flagsLine = /;; flags:([^;]*);/.exec(text);
  if (header === null || flagsLine === null) throw new Error('no header in dig output');
  const result: DigResult = {
    opcode: header[1] as string,
    status: header[2] as string,
    flags: (flagsLine[1] as string).trim().split(/\s+/).filter((f) => f !== ''),
    question: [],
    answer: [],
    authority: [],
    additional: [],
    opt: text.includes(';; OPT PSEUDOSECTION:'),
    ede: [],
    size: Number(/MSG SIZE\s+rcvd: (\d+)/.exec(text)?.[1] ?? NaN),
    raw: text,
  };
  const udp = /; EDNS: version: \d+, flags:[^;]*; udp: (\d+)/.exec(text);
  if (udp !== null) result.udpSize = Number(udp[1]);
  // dig 9.18 prints `; EDE: 0 (Other): (some text)`.
  for (const m of text.matchAll(/^; EDE: (\d+)(?: \([^)]*\))?(?:: \((.*)\))?$/gm)) {
    result.ede.push({ code: Number(m[1]), text: m[2] ?? '' });
  }
  let section: 'question' | 'answer' | 'authority' | 'additional' | null = null;
  for (const line of text.split('\n')) {
    if (line.startsWith(';; QUESTION SECTION:')) section = 'question';
    else if (line.startsWith(';; ANSWER SECTION:')) section = 'answer';
    else if (line.startsWith(';; AUTHORITY SECTION:')) section = 'authority';
    else if (line.startsWith(';; ADDITIONAL SECTION:')) section = 'additional';
    else if (line.trim() === '' || line.startsWith(';;')) section = line.trim() === '' ? null : section;
    else if (section === 'question') result.question.push(line.replace(/^;/, '').trim().split(/\s+/).join(' '));
    else if (section !== null && !line.startsWith(';')) result[section].push(parseRecord(line));
  }
  return result;
}

/**
 * Asks many names in one `dig -f` run (one process, queries in sequence), for tests that check
 * hundreds of names. Returns each name's result, keyed by the name as asked (lowercase, no dot).
 * A name without a reply makes the whole call fail: the caller asked for every answer.
 */
export async function runDigBatch(port: number, names: string[], type: string, options: { timeoutMs?: number } = {}): Promise<Map<string, DigResult>> {
  const dir = mkdtempSync(join(tmpdir(), 'dig-batch-'));
  const file = join(dir, 'queries');
  writeFileSync(file, names.map((n) => `${n} ${type}\n`).join(''));
  const args = ['@127.0.0.1', '-p', String(port), '-f', file, '+time=2', '+tries=1', '+retry=0'];
  try {
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile('dig', args, { timeout: options.timeoutMs ?? 120_000, maxBuffer: 256 << 20 }, (error, out, err) => {
        if (error) reject(new Error(`dig ${args.join(' ')} failed: ${error.message}\n${out.slice(-2000)}${err}`));
        else resolve(out);
      });
    });
    const results = new Map<string, DigResult>();
    // Each query's output begins with dig's banner line.
    for (const block of stdout.split(/^; <<>> DiG .*$/m).slice(1)) {
      const parsed = parseDigOutput(block);
      const question = parsed.question[0]?.split(' ')[0];
      if (question !== undefined) results.set(question.replace(/\.$/, '').toLowerCase(), parsed);
    }
    const missing = names.filter((n) => !results.has(n.replace(/\.$/, '').toLowerCase()));
    if (missing.length > 0) throw new Error(`dig batch: no reply for ${missing.length} of ${names.length} names, e.g. ${missing.slice(0, 3).join(', ')}`);
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
