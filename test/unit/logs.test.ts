/** Logs for people and machines: text lines, json by default off a terminal, one-line failures. */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { describeFailure } from '../../src/cli/main.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { formatRecordText } from '../../src/observability/text-format.ts';

function capture(isTTY: boolean): { stream: Writable & { isTTY?: boolean }; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter((l) => l !== ''));
      cb();
    },
  }) as Writable & { isTTY?: boolean };
  stream.isTTY = isTTY;
  return { stream, lines };
}

describe('log formats', () => {
  it('text: time, level, component, message, then the fields; values bounded', () => {
    const line = formatRecordText({ level: 40, time: '2026-12-01T21:04:05.123Z', pid: 1, component: 'embedded', msg: 'reloaded 1 file(s)', files: ['west/web.yaml'], ms: 4, big: 'x'.repeat(500) });
    expect(line.startsWith('21:04:05.123 WARN  embedded: reloaded 1 file(s) files=["west/web.yaml"] ms=4 big=')).toBe(true);
    expect(line.length).toBeLessThan(300);
  });

  it('auto is text on a terminal and json elsewhere; explicit formats win', async () => {
    const tty = capture(true);
    createLogger({ destination: tty.stream, format: 'auto' }).info({ cluster: 'east' }, 'hello');
    const pipe = capture(false);
    createLogger({ destination: pipe.stream, format: 'auto' }).info({ cluster: 'east' }, 'hello');
    const forced = capture(true);
    createLogger({ destination: forced.stream, format: 'json' }).info('hello');
    await new Promise((r) => setImmediate(r));
    expect(tty.lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  hello cluster=east$/);
    expect(JSON.parse(pipe.lines[0]!)).toMatchObject({ level: 30, msg: 'hello', cluster: 'east' });
    expect(JSON.parse(forced.lines[0]!)).toMatchObject({ msg: 'hello' });
  });
});

describe('expected failures', () => {
  const inUse = new Error('cannot listen on udp 127.0.0.1:5353: address already in use (EADDRINUSE)');
  it('are one line with a hint; the stack only when debug output is asked for', () => {
    expect(describeFailure(inUse, false)).toBe(
      'clusterset-dns: cannot listen on udp 127.0.0.1:5353: address already in use (EADDRINUSE); another process holds that port: stop it or pass another --listen / --http-listen',
    );
    const debug = describeFailure(inUse, true).split('\n');
    expect(debug.length).toBeGreaterThan(1);
    expect(debug[1]).toContain('Error: cannot listen');
  });
});
