// The Corefile editor behind `clusterset-dns coredns install|uninstall` and doctor's Corefile checks:
// structure, idempotent install/uninstall that keeps every other byte, refusal when the zone is
// already routed, damaged markers, the NodeLocal DNS flavour.
import { describe, expect, it } from 'vitest';
import {
  CorefileConflictError,
  CorefileSyntaxError,
  beginMarker,
  endMarker,
  forwardTarget,
  installStub,
  parseCorefile,
  uninstallStub,
  zoneRouting,
} from '../../src/corefile/index.ts';
import { KUBEADM, NODELOCAL } from '../helpers/corefiles.ts';



const ZONE = 'clusterset.local';

function region(body: string, zone = ZONE): string {
  return `${beginMarker(zone)}\n${body}${endMarker(zone)}\n`;
}

describe('Corefile outline: server blocks, keys and directives', () => {
  const cases: Array<{ name: string; corefile: string; keys: string[][]; directives?: string[][] }> = [
    { name: 'kubeadm default', corefile: KUBEADM, keys: [['.:53']], directives: [['errors', 'health', 'ready', 'kubernetes', 'prometheus', 'forward', 'cache', 'loop', 'reload', 'loadbalance']] },
    { name: 'NodeLocal DNS (closing braces indented)', corefile: NODELOCAL, keys: [['cluster.local:53'], ['in-addr.arpa:53'], ['.:53']] },
    { name: 'several keys on one line', corefile: 'a.org b.org:1053 {\n  whoami\n}\n', keys: [['a.org', 'b.org:1053']] },
    { name: 'keys continued after a comma', corefile: 'a.org,\n  b.org {\n  whoami\n}\n', keys: [['a.org', 'b.org']] },
    { name: 'brace on the next line', corefile: 'example.org\n{\n  whoami\n}\n', keys: [['example.org']] },
    { name: 'one block without braces', corefile: 'example.org:1053\nwhoami\nlog\n', keys: [['example.org:1053']], directives: [['whoami', 'log']] },
    { name: 'comments, also mid-word and with braces', corefile: '# {\n.:53 { # }\n  log#}\n}\n', keys: [['.:53']], directives: [['log']] },
    { name: 'quoted braces are arguments', corefile: '.:53 {\n  template IN A { \n    answer "{{ .Name }} 60 IN A 1.2.3.4"\n  }\n}\n', keys: [['.:53']] },
    { name: 'nested block on one line', corefile: '.:53 {\n  forward . 1.1.1.1 { force_tcp }\n  log\n}\n', keys: [['.:53']], directives: [['forward', 'log']] },
    { name: 'snippet and import', corefile: '(common) {\n  log\n}\nimport /etc/coredns/custom/*.server\n.:53 {\n  import common\n}\n', keys: [[], ['.:53']] },
    { name: 'empty file', corefile: '', keys: [] },
  ];
  it.each(cases)('$name', ({ corefile, keys, directives }) => {
    const outline = parseCorefile(corefile);
    expect(outline.blocks.map((b) => b.keys.map((k) => k.raw))).toEqual(keys);
    if (directives !== undefined) expect(outline.blocks.map((b) => b.directives.map((d) => d.name))).toEqual(directives);
  });

  it('keys carry scheme, normalised zone and port', () => {
    const keys = parseCorefile('dns://Example.ORG.:1053 tls://secure.test .:53 clusterset.local {\n}\n').blocks[0]!.keys;
    expect(keys.map((k) => [k.scheme, k.zone, k.port])).toEqual([
      ['dns', 'example.org', 1053],
      ['tls', 'secure.test', 853],
      ['dns', '.', 53],
      ['dns', 'clusterset.local', 53],
    ]);
  });

  it('nested directives are kept (force_tcp under forward)', () => {
    const forward = parseCorefile(NODELOCAL).blocks[0]!.directives.find((d) => d.name === 'forward')!;
    expect(forward.args).toEqual(['.', '__PILLAR__CLUSTER__DNS__']);
    expect(forward.body.map((d) => d.name)).toEqual(['force_tcp']);
  });

  const errors: Array<{ name: string; corefile: string; line: number }> = [
    { name: 'unclosed block', corefile: '.:53 {\n  log\n', line: 1 },
    { name: 'stray closing brace', corefile: '.:53 {\n}\n}\n', line: 3 },
    { name: 'unclosed quote', corefile: '.:53 {\n  log "oops\n}\n', line: 2 },
    { name: 'trailing comma before the brace', corefile: 'a.org, {\n}\n', line: 1 },
  ];
  it.each(errors)('syntax error: $name (line $line)', ({ corefile, line }) => {
    expect(() => parseCorefile(corefile)).toThrow(CorefileSyntaxError);
    try {
      parseCorefile(corefile);
    } catch (err) {
      expect((err as CorefileSyntaxError).line).toBe(line);
    }
  });
});

describe('coredns install: adds the stub between markers, keeps every other byte', () => {
  it('appends the stub to the kubeadm Corefile', () => {
    const result = installStub(KUBEADM, { zone: ZONE, upstreams: ['10.96.0.53'] });
    expect(result.changed).toBe(true);
    expect(result.port).toBe(53);
    expect(result.text).toBe(KUBEADM + region('clusterset.local:53 {\n    errors\n    forward . 10.96.0.53\n}\n'));
  });

  it('is idempotent: a second install changes nothing', () => {
    const once = installStub(KUBEADM, { zone: ZONE, upstreams: ['10.96.0.53'] }).text;
    const twice = installStub(once, { zone: ZONE, upstreams: ['10.96.0.53'] });
    expect(twice.changed).toBe(false);
    expect(twice.text).toBe(once);
  });

  it('a changed DNS Service IP replaces only the managed region, wherever the admin moved it', () => {
    const managed = region('clusterset.local:53 {\n    errors\n    forward . 10.96.0.53\n}\n');
    const before = `# site config\n${managed}${KUBEADM}example.org {\n  whoami\n}`;
    const after = installStub(before, { zone: ZONE, upstreams: ['10.96.9.9', '10.96.9.10'] });
    expect(after.text).toBe(`# site config\n${region('clusterset.local:53 {\n    errors\n    forward . 10.96.9.9 10.96.9.10\n}\n')}${KUBEADM}example.org {\n  whoami\n}`);
  });

  it('install then uninstall gives back the original bytes', () => {
    for (const original of [KUBEADM, NODELOCAL, '', 'example.org {\n  whoami\n}\n\n\n']) {
      const installed = installStub(original, { zone: ZONE, upstreams: ['10.96.0.53'] }).text;
      const removed = uninstallStub(installed, ZONE);
      expect(removed.changed).toBe(true);
      expect(removed.text).toBe(original);
    }
  });

  it('a Corefile without a final line break gets one before the markers (and keeps it on uninstall)', () => {
    const original = '.:53 {\n    forward . /etc/resolv.conf\n}';
    const installed = installStub(original, { zone: ZONE, upstreams: ['10.96.0.53'] }).text;
    expect(installed.startsWith(`${original}\n${beginMarker(ZONE)}\n`)).toBe(true);
    expect(uninstallStub(installed, ZONE).text).toBe(`${original}\n`);
  });

  it('keeps CRLF line breaks when the Corefile uses them', () => {
    const crlf = KUBEADM.replaceAll('\n', '\r\n');
    const installed = installStub(crlf, { zone: ZONE, upstreams: ['10.96.0.53'] });
    expect(installed.text.startsWith(crlf)).toBe(true);
    expect(installed.text.slice(crlf.length)).toBe(region('clusterset.local:53 {\n    errors\n    forward . 10.96.0.53\n}\n').replaceAll('\n', '\r\n'));
    expect(uninstallStub(installed.text, ZONE).text).toBe(crlf);
  });

  it('the stub listens on the port the Corefile serves DNS on', () => {
    const result = installStub('.:1053 {\n  forward . 8.8.8.8\n}\n', { zone: ZONE, upstreams: [forwardTarget('127.0.0.1', 5353)] });
    expect(result.port).toBe(1053);
    expect(result.text).toContain('clusterset.local:1053 {\n    errors\n    forward . 127.0.0.1:5353\n}\n');
  });

  it('zones have their own regions: installing or removing one leaves the other alone', () => {
    const both = installStub(installStub(KUBEADM, { zone: ZONE, upstreams: ['10.96.0.53'] }).text, { zone: 'example.mcs', upstreams: ['10.96.0.53'] }).text;
    expect(both.split('BEGIN clusterset-dns').length - 1).toBe(2);
    const onlyOther = uninstallStub(both, ZONE).text;
    expect(onlyOther).toBe(KUBEADM + region('example.mcs:53 {\n    errors\n    forward . 10.96.0.53\n}\n', 'example.mcs'));
  });

  it('uninstall without our block changes nothing', () => {
    expect(uninstallStub(KUBEADM, ZONE)).toMatchObject({ text: KUBEADM, changed: false });
  });

  it('notes imports it cannot look into', () => {
    const result = installStub('import /etc/coredns/custom/*.server\n' + KUBEADM, { zone: ZONE, upstreams: ['10.96.0.53'] });
    expect(result.notes).toEqual(['line 1: "import /etc/coredns/custom/*.server" is not checked; make sure the imported files do not serve the zone']);
  });

  it('forward targets: port 53 omitted, IPv6 bracketed', () => {
    expect([forwardTarget('10.0.0.1'), forwardTarget('10.0.0.1', 53), forwardTarget('10.0.0.1', 5353), forwardTarget('fd00::53'), forwardTarget('fd00::53', 5353)]).toEqual([
      '10.0.0.1', '10.0.0.1', '10.0.0.1:5353', 'fd00::53', '[fd00::53]:5353',
    ]);
  });
});

describe('coredns install refuses when the zone is already routed elsewhere', () => {
  const cases: Array<{ name: string; corefile: string; lines: number[] }> = [
    { name: 'a server block for the zone', corefile: `${KUBEADM}clusterset.local:53 {\n    forward . 10.0.0.1\n}\n`, lines: [24] },
    { name: 'the same zone spelled with a dot and capitals, no port', corefile: `ClusterSet.Local. {\n    forward . 10.0.0.1\n}\n${KUBEADM}`, lines: [1] },
    { name: 'one of several keys', corefile: `example.org clusterset.local {\n    whoami\n}\n`, lines: [1] },
    { name: 'a block for a name inside the zone', corefile: `svc.clusterset.local:53 {\n    whoami\n}\n`, lines: [1] },
    { name: 'the kubernetes plugin serving the zone', corefile: KUBEADM.replace('kubernetes cluster.local', 'kubernetes cluster.local clusterset.local'), lines: [7] },
    { name: 'kubernetes multicluster option', corefile: '.:53 {\n    kubernetes cluster.local clusterset.local {\n        multicluster clusterset.local\n    }\n}\n', lines: [2, 3] },
    { name: 'a forward for the zone inside the root block', corefile: '.:53 {\n    forward clusterset.local 10.1.1.1\n    forward . 8.8.8.8\n}\n', lines: [2] },
    { name: 'a snippet mentioning the zone', corefile: '(mcs) {\n    forward clusterset.local 10.1.1.1\n}\n.:53 {\n    import mcs\n}\n', lines: [2] },
  ];
  it.each(cases)('$name', ({ corefile, lines }) => {
    let caught: unknown;
    try {
      installStub(corefile, { zone: ZONE, upstreams: ['10.96.0.53'] });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CorefileConflictError);
    const conflict = caught as CorefileConflictError;
    expect(conflict.routes.map((r) => r.line)).toEqual(lines);
    expect(conflict.message).toContain('already routes clusterset.local elsewhere');
    expect(conflict.message).toContain(`line ${lines[0]}: `);
  });

  const fine: Array<{ name: string; corefile: string }> = [
    { name: 'the zone on another port', corefile: `${KUBEADM}clusterset.local:5353 {\n    whoami\n}\n` },
    { name: 'the zone over TLS', corefile: `${KUBEADM}tls://clusterset.local {\n    whoami\n}\n` },
    { name: 'a comment naming the zone', corefile: `# clusterset.local goes to clusterset-dns\n${KUBEADM}` },
    { name: 'look-alike names', corefile: `${KUBEADM}notclusterset.local:53 clusterset.local.example:53 {\n    whoami\n}\n` },
  ];
  it.each(fine)('no conflict: $name', ({ corefile }) => {
    const result = installStub(corefile, { zone: ZONE, upstreams: ['10.96.0.53'] });
    expect(result.text.startsWith(corefile)).toBe(true);
  });

  it('our own region is not a conflict', () => {
    const installed = installStub(KUBEADM, { zone: ZONE, upstreams: ['10.96.0.53'] }).text;
    expect(() => installStub(installed, { zone: ZONE, upstreams: ['10.96.0.54'] })).not.toThrow();
  });
});

describe('damaged markers: refuse rather than guess what to delete', () => {
  const body = 'clusterset.local:53 {\n    forward . 10.96.0.53\n}\n';
  const cases: Array<{ name: string; corefile: string; line: number; message: RegExp }> = [
    { name: 'BEGIN without END', corefile: `${KUBEADM}${beginMarker(ZONE)}\n${body}`, line: 24, message: /has no END marker/ },
    { name: 'END without BEGIN', corefile: `${KUBEADM}${body}${endMarker(ZONE)}\n`, line: 27, message: /without a BEGIN marker/ },
    { name: 'two regions for one zone', corefile: `${region(body)}${region(body)}`, line: 6, message: /a second managed block/ },
    { name: 'END of another zone', corefile: `${beginMarker(ZONE)}\n${body}${endMarker('example.mcs')}\n`, line: 5, message: /closes the managed block for zone clusterset.local/ },
  ];
  it.each(cases)('$name', ({ corefile, line, message }) => {
    for (const edit of [() => installStub(corefile, { zone: ZONE, upstreams: ['10.96.0.53'] }), () => uninstallStub(corefile, ZONE)]) {
      let caught: unknown;
      try {
        edit();
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(CorefileSyntaxError);
      expect((caught as CorefileSyntaxError).line).toBe(line);
      expect((caught as Error).message).toMatch(message);
    }
  });
});

describe('NodeLocal DNS flavour', () => {
  it('binds where NodeLocal listens and forwards over TCP like its cluster.local block', () => {
    const result = installStub(NODELOCAL, { zone: ZONE, upstreams: ['10.96.0.53'], flavor: 'nodelocal' });
    expect(result.text).toBe(NODELOCAL + region('clusterset.local:53 {\n    errors\n    bind 169.254.20.10 10.96.0.10\n    forward . 10.96.0.53 {\n        force_tcp\n    }\n}\n'));
  });

  it('IPVS mode (bind to the link-local address only, UDP forward)', () => {
    const ipvs = NODELOCAL.replaceAll('bind 169.254.20.10 10.96.0.10', 'bind 169.254.20.10').replace(/forward \. __PILLAR__CLUSTER__DNS__ \{\n\s+force_tcp\n\s+\}/, 'forward . __PILLAR__CLUSTER__DNS__');
    const result = installStub(ipvs, { zone: ZONE, upstreams: ['10.96.0.53'], flavor: 'nodelocal' });
    expect(result.text.slice(ipvs.length)).toBe(region('clusterset.local:53 {\n    errors\n    bind 169.254.20.10\n    forward . 10.96.0.53\n}\n'));
  });
});

describe('zoneRouting: where a Corefile sends the zone (doctor)', () => {
  it('not routed: no block for the zone', () => {
    expect(zoneRouting(KUBEADM, ZONE)).toMatchObject({ port: 53, managed: false, upstreams: [], line: undefined, others: [] });
  });

  it('routed by our block', () => {
    const installed = installStub(KUBEADM, { zone: ZONE, upstreams: ['10.96.0.53'] }).text;
    expect(zoneRouting(installed, ZONE)).toMatchObject({ managed: true, upstreams: ['10.96.0.53'], line: 25, forceTcp: false, others: [] });
  });

  it('routed by a hand-written block', () => {
    const routing = zoneRouting(`${KUBEADM}clusterset.local:53 {\n    forward . 10.96.0.7 {\n        force_tcp\n    }\n}\n`, 'clusterset.local.');
    expect(routing).toMatchObject({ managed: false, upstreams: ['10.96.0.7'], line: 24, forceTcp: true });
    expect(routing.others.map((r) => r.line)).toEqual([24]);
  });
});
