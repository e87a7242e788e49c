/**
 * NSD as the reference authoritative server: foreground (`nsd -d`), loopback port, its own config
 * and files in a temp dir, rate limiting off (Debian's default would throttle the benchmark).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

export interface NsdProcess {
  /** The NSD main process (its server processes are its children). */
  readonly pid: number;
  stop(): Promise<void>;
}

export function startNsd(options: { dir: string; port: number; zone: string; zoneFile: string; serverCount: number }): NsdProcess {
  const conf = path.join(options.dir, 'nsd.conf');
  writeFileSync(
    conf,
    [
      'server:',
      `  ip-address: 127.0.0.1@${options.port}`,
      `  port: ${options.port}`,
      `  server-count: ${options.serverCount}`,
      '  username: ""',
      '  chroot: ""',
      `  zonesdir: "${options.dir}"`,
      `  pidfile: "${path.join(options.dir, 'nsd.pid')}"`,
      `  xfrdfile: "${path.join(options.dir, 'xfrd.state')}"`,
      `  zonelistfile: "${path.join(options.dir, 'zone.list')}"`,
      `  xfrdir: "${options.dir}"`,
      `  logfile: "${path.join(options.dir, 'nsd.log')}"`,
      '  database: ""',
      '  do-ip6: no',
      '  verbosity: 0',
      '  rrl-ratelimit: 0',
      '  rrl-whitelist-ratelimit: 0',
      'remote-control:',
      '  control-enable: no',
      'zone:',
      `  name: ${options.zone}`,
      `  zonefile: "${options.zoneFile}"`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('nsd', ['-d', '-c', conf], { stdio: ['ignore', 'ignore', 'inherit'] });
  let exited = false;
  const exit = new Promise<void>((resolve) => child.on('exit', () => {
    exited = true;
    resolve();
  }));
  return {
    pid: child.pid ?? -1,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(timer);
    },
  };
}
