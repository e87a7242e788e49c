/**
 * A minimal DNS client for `doctor`: one UDP query, and what the header of the reply says (rcode,
 * answer count, TC). Doctor only needs "does this name answer, and how"; it never decodes records,
 * so a dozen lines of wire format are enough (the full codec stays in src/server).
 */
import dgram from 'node:dgram';
import { isIP } from 'node:net';

export const QTYPE = { A: 1, NS: 2, SOA: 6, TXT: 16, AAAA: 28, SRV: 33 } as const;
export const RCODE_NAMES: Readonly<Record<number, string>> = { 0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED' };

export interface ProbeReply {
  rcode: number;
  rcodeName: string;
  answers: number;
  truncated: boolean;
  authoritative: boolean;
}

/** The query message: RD set, one question, an EDNS0 OPT advertising 1232 bytes. */
export function buildQuery(id: number, name: string, qtype: number): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter((l) => l !== '');
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id & 0xffff, 0);
  header[2] = 0x01; // RD
  header.writeUInt16BE(1, 4); // QDCOUNT
  header.writeUInt16BE(1, 10); // ARCOUNT (OPT)
  const qname = Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')])), Buffer.from([0])]);
  const question = Buffer.alloc(4);
  question.writeUInt16BE(qtype, 0);
  question.writeUInt16BE(1, 2); // IN
  const opt = Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]); // root, OPT, 1232, no flags, no options
  return Buffer.concat([header, qname, question, opt]);
}

/** Reads the reply header; undefined when it is not a reply to `id`. */
export function readReply(id: number, message: Buffer): ProbeReply | undefined {
  if (message.length < 12 || message.readUInt16BE(0) !== (id & 0xffff) || (message[2]! & 0x80) === 0) return undefined;
  const rcode = message[3]! & 0x0f;
  return {
    rcode,
    rcodeName: RCODE_NAMES[rcode] ?? `RCODE${rcode}`,
    answers: message.readUInt16BE(6),
    truncated: (message[2]! & 0x02) !== 0,
    authoritative: (message[2]! & 0x04) !== 0,
  };
}

export interface ProbeTarget {
  host: string;
  port: number;
}

/** Sends one UDP query and waits (bounded) for the matching reply. */
export function probe(target: ProbeTarget, name: string, qtype: number, timeoutMs: number, id = Math.floor(Math.random() * 0x10000)): Promise<ProbeReply> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(isIP(target.host) === 6 ? 'udp6' : 'udp4');
    const timer = setTimeout(() => finish(new Error(`no answer from ${target.host}:${target.port} within ${timeoutMs} ms`)), timeoutMs);
    let done = false;
    function finish(result: Error | ProbeReply): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.close();
      if (result instanceof Error) reject(result);
      else resolve(result);
    }
    socket.on('error', (err) => finish(new Error(`querying ${target.host}:${target.port}: ${err.message}`)));
    socket.on('message', (message) => {
      const reply = readReply(id, message);
      if (reply !== undefined) finish(reply);
    });
    socket.send(buildQuery(id, name, qtype), target.port, target.host);
  });
}
