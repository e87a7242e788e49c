/** The `--log-format` flag: JSON lines for machines, text for people (the default on a terminal). */
import type { FlagSpec } from './flags.ts';

export const LOG_FORMATS = ['auto', 'json', 'text'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export const LOG_FORMAT_FLAG: FlagSpec = {
  name: 'log-format',
  kind: 'enum',
  env: 'CLUSTERSET_DNS_LOG_FORMAT',
  metavar: 'FORMAT',
  choices: LOG_FORMATS,
  default: 'auto',
  help: 'json (one JSON object per line) or text (one readable line per record); auto: text on a terminal, json otherwise',
};

/** `auto` decided: text when the log goes to a terminal. */
export function effectiveLogFormat(format: LogFormat, isTerminal: boolean): 'json' | 'text' {
  if (format === 'auto') return isTerminal ? 'text' : 'json';
  return format;
}
