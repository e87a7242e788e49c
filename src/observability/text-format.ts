/**
 * Pure: one pino JSON record as one readable line, for people at a terminal:
 *   `21:04:05.123 INFO  embedded: reloaded 1 file(s) files=[west/web.yaml] ms=4`
 * Bounded: every field value is previewed, never printed whole.
 */
import { previewValue } from '../model/bounded-text.ts';

const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** Fields shown elsewhere in the line, or noise for a person. */
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'component', 'v']);
const MAX_FIELD_CHARS = 200;

export function formatRecordText(record: Record<string, unknown>): string {
  const level = LEVEL_NAMES[record['level'] as number] ?? String(record['level']);
  const time = typeof record['time'] === 'string' ? record['time'].slice(11, 23) : typeof record['time'] === 'number' ? new Date(record['time']).toISOString().slice(11, 23) : '';
  const component = typeof record['component'] === 'string' ? `${record['component']}: ` : '';
  const msg = typeof record['msg'] === 'string' ? record['msg'] : '';
  const fields: string[] = [];
  for (const [key, value] of Object.entries(record)) {
    if (HIDDEN.has(key) || value === undefined) continue;
    if (key === 'err' && value !== null && typeof value === 'object') {
      const err = value as { message?: unknown; stack?: unknown };
      fields.push(`err=${previewValue(err.message ?? value, MAX_FIELD_CHARS)}`);
      continue;
    }
    fields.push(`${key}=${typeof value === 'string' ? (value.includes(' ') ? previewValue(value, MAX_FIELD_CHARS) : value.slice(0, MAX_FIELD_CHARS)) : previewValue(value, MAX_FIELD_CHARS)}`);
  }
  return `${time} ${level.padEnd(5)} ${component}${msg}${fields.length > 0 ? ` ${fields.join(' ')}` : ''}`;
}
