/**
 * Binds UDP then TCP on the same port. With port 0 the kernel picks the UDP port, and that number
 * may already be taken for TCP: then both are released and another port is tried.
 */
import type { ListenAddress } from '../config/options.ts';

const FREE_PORT_ATTEMPTS = 10;

export async function bindBoth<U extends { port: number; close(): Promise<void> }, T extends { close(): Promise<void> }>(
  listen: ListenAddress,
  bindUdp: (host: string, port: number) => Promise<U>,
  bindTcp: (host: string, port: number) => Promise<T>,
): Promise<{ udp: U; tcp: T }> {
  const attempts = listen.port === 0 ? FREE_PORT_ATTEMPTS : 1;
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const udp = await bindUdp(listen.host, listen.port);
    try {
      const tcp = await bindTcp(listen.host, udp.port);
      return { udp, tcp };
    } catch (error) {
      lastError = error;
      await udp.close();
    }
  }
  throw lastError;
}
