/**
 * The opt-in query log (`--query-log`), one info record per answered query with what CoreDNS's
 * `log` plugin prints: client, name, type, rcode, duration and transport. Off by default: it costs a
 * log write per query. The name is read from the question's wire form, bounded to 255 bytes.
 */
import type { Logger } from 'pino';
import { QUERY_TYPE_LABELS, RCODE_LABELS, TRANSPORTS, queryTypeLabelIndex, rcodeLabelIndex } from './query-stats.ts';

export interface QueryLogEntry {
  /** The message and where its question name ends (0: no question). */
  message: Buffer;
  nameEnd: number;
  qtype: number;
  rcode: number;
  seconds: number;
  transport: number;
  clientAddress?: string;
  clientPort?: number;
}

export type QueryLog = (entry: QueryLogEntry) => void;

/** The question name as text (`web.shop.svc.clusterset.local.`), or '' when there is none. */
export function questionName(message: Buffer, nameEnd: number): string {
  if (nameEnd <= 12 || nameEnd > message.length) return '';
  const labels: string[] = [];
  let i = 12;
  while (i < nameEnd && i < 12 + 255) {
    const length = message[i]!;
    if (length === 0 || length > 63) break;
    labels.push(message.toString('latin1', i + 1, Math.min(i + 1 + length, nameEnd)).replace(/[^\x21-\x7e]/g, '?'));
    i += 1 + length;
  }
  return `${labels.join('.')}.`;
}

export function createQueryLog(logger: Logger): QueryLog {
  const log = logger.child({ component: 'query' });
  return (e) => {
    const typeIndex = queryTypeLabelIndex(e.qtype);
    log.info(
      {
        client: e.clientAddress === undefined ? undefined : `${e.clientAddress.includes(':') ? `[${e.clientAddress}]` : e.clientAddress}:${e.clientPort ?? 0}`,
        name: questionName(e.message, e.nameEnd),
        type: typeIndex === QUERY_TYPE_LABELS.length - 1 ? (e.qtype < 0 ? 'none' : `TYPE${e.qtype}`) : QUERY_TYPE_LABELS[typeIndex],
        rcode: RCODE_LABELS[rcodeLabelIndex(e.rcode)],
        durationMs: Math.round(e.seconds * 1e6) / 1e3,
        proto: TRANSPORTS[e.transport],
      },
      'query',
    );
  };
}
