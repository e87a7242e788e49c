/**
 * The pino logger factory. The destination is a parameter so tests can read the records they assert
 * on, and so nothing here decides where a process logs. `format: 'text'` turns each record into one
 * readable line (src/observability/text-format.ts); `auto` picks text when the destination is a
 * terminal.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { DestinationStream, Logger, LevelWithSilent } from 'pino';
import { formatRecordText } from './text-format.ts';

export type { Logger };

export interface LoggerOptions {
  /** Minimum level; `silent` turns logging off. Default `info`. */
  level?: LevelWithSilent;
  /** Where lines go. Default: stdout (pino's own fast destination). */
  destination?: DestinationStream | NodeJS.WritableStream;
  /** Bound fields on every record, e.g. `{ component: 'dns' }`. */
  base?: Record<string, unknown>;
  /** json (default), text, or auto (text when the destination is a terminal). */
  format?: 'json' | 'text' | 'auto';
}

function isTerminal(stream: unknown): boolean {
  return (stream as { isTTY?: unknown } | undefined)?.isTTY === true;
}

/** A stream that takes pino's JSON lines and writes them to `out` as text lines. */
function textStream(out: DestinationStream | NodeJS.WritableStream): DestinationStream {
  return new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      const lines = String(chunk).split('\n').filter((l) => l !== '');
      const text = lines
        .map((line) => {
          try {
            return formatRecordText(JSON.parse(line) as Record<string, unknown>);
          } catch {
            return line;
          }
        })
        .join('\n');
      out.write(`${text}\n`);
      done();
    },
  }) as unknown as DestinationStream;
}

/** What `auto` comes to for a destination (default stdout): text on a terminal, json otherwise. */
export function resolveLogFormat(format: LoggerOptions['format'], destination?: unknown): 'json' | 'text' {
  if (format !== 'auto') return format ?? 'json';
  const terminal = destination === undefined ? process.stdout.isTTY === true : isTerminal(destination);
  return terminal ? 'text' : 'json';
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const base = options.destination ?? pino.destination({ dest: 1, sync: false });
  const format = resolveLogFormat(options.format, options.destination);
  const destination = format === 'text' ? textStream(base) : (base as DestinationStream);
  return pino(
    {
      level: options.level ?? 'info',
      base: { pid: process.pid, ...options.base },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
