/**
 * The pino logger factory. The destination is a parameter so tests can read the records they assert
 * on, and so nothing here decides where a process logs.
 */
import { pino } from 'pino';
import type { DestinationStream, Logger, LevelWithSilent } from 'pino';

export type { Logger };

export interface LoggerOptions {
  /** Minimum level; `silent` turns logging off. Default `info`. */
  level?: LevelWithSilent;
  /** Where JSON lines go. Default: stdout (pino's own fast destination). */
  destination?: DestinationStream;
  /** Bound fields on every record, e.g. `{ component: 'dns' }`. */
  base?: Record<string, unknown>;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const destination = options.destination ?? pino.destination({ dest: 1, sync: false });
  return pino(
    {
      level: options.level ?? 'info',
      base: { pid: process.pid, ...options.base },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
