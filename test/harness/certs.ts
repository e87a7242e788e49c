// Key material for the harness, made with the openssl CLI: one CA, one serving certificate for
// 127.0.0.1 (every apiserver listens there), and per cluster an RSA service-account key pair.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (err) {
    const e = err as { code?: string; stderr?: string; message: string };
    if (e.code === 'ENOENT') throw new Error('openssl not found: install it (Debian: apt-get install -y openssl)');
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr ?? e.message}`);
  }
}

export interface ServingPki {
  caCert: string;
  caKey: string;
  cert: string;
  key: string;
}

/** CA plus a serving certificate valid for IP 127.0.0.1 and DNS localhost, in `dir`. */
export async function createServingPki(dir: string): Promise<ServingPki> {
  const pki = {
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    cert: join(dir, 'serving.crt'),
    key: join(dir, 'serving.key'),
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(['req', '-x509', ...ec, '-keyout', pki.caKey, '-out', pki.caCert, '-days', '30',
    '-subj', '/CN=clusterset-dns harness CA',
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  const csr = join(dir, 'serving.csr');
  const ext = join(dir, 'serving.ext');
  writeFileSync(ext, [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '',
  ].join('\n'));
  await openssl(['req', ...ec, '-keyout', pki.key, '-out', csr, '-subj', '/CN=127.0.0.1'], dir);
  await openssl(['x509', '-req', '-in', csr, '-CA', pki.caCert, '-CAkey', pki.caKey, '-CAcreateserial',
    '-out', pki.cert, '-days', '30', '-extfile', ext], dir);
  return pki;
}

export interface ServiceAccountKeys {
  privateKey: string;
  publicKey: string;
}

/** An RSA-2048 key pair that signs (private) and verifies (public) service-account tokens. */
export async function createServiceAccountKeys(dir: string): Promise<ServiceAccountKeys> {
  const keys = { privateKey: join(dir, 'sa.key'), publicKey: join(dir, 'sa.pub') };
  await openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', keys.privateKey], dir);
  await openssl(['pkey', '-in', keys.privateKey, '-pubout', '-out', keys.publicKey], dir);
  return keys;
}
