/**
 * Test helper: credentials for a nats-server of a test's own. User nkeys,
 * an operator/account setup with JWTs signed here (the format nsc writes,
 * with JetStream enabled for the account) and .creds files for its users,
 * and a CA with server and client certificates made by openssl.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { nkeys } from '@nats-io/transport-node';

type KeyPair = ReturnType<typeof nkeys.createUser>;

const seedOf = (kp: KeyPair) => new TextDecoder().decode(kp.getSeed());
const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

/** A user nkey: its seed (SU...) and public key (U...). */
export function userNkey(): { seed: string; publicKey: string } {
  const kp = nkeys.createUser();
  return { seed: seedOf(kp), publicKey: kp.getPublicKey() };
}

/** A NATS JWT (v2) about `subject`, signed by `issuer`. */
function natsJwt(issuer: KeyPair, subject: string, name: string, nats: object): string {
  const head = b64({ typ: 'JWT', alg: 'ed25519-nkey' });
  const claims = b64({
    jti: randomBytes(16).toString('hex').toUpperCase(),
    iat: Math.floor(Date.now() / 1000),
    iss: issuer.getPublicKey(),
    name,
    sub: subject,
    nats: { ...nats, version: 2 },
  });
  const sig = Buffer.from(issuer.sign(Buffer.from(`${head}.${claims}`))).toString('base64url');
  return `${head}.${claims}.${sig}`;
}

export interface Permissions {
  publish: string[];
  subscribe: string[];
}

/**
 * An operator with a system account and an account with JetStream, as server
 * configuration (`config`), and .creds files for users of the account.
 */
export function operatorSetup(): { config: string; creds: (name: string, perms: Permissions) => string } {
  const operator = nkeys.createOperator();
  const system = nkeys.createAccount();
  const account = nkeys.createAccount();
  const unlimited = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };
  const jetstream = { mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 };
  const operatorJwt = natsJwt(operator, operator.getPublicKey(), 'specter-test', { type: 'operator', system_account: system.getPublicKey() });
  const systemJwt = natsJwt(operator, system.getPublicKey(), 'SYS', { type: 'account', limits: unlimited });
  const accountJwt = natsJwt(operator, account.getPublicKey(), 'SPECTER', { type: 'account', limits: { ...unlimited, ...jetstream } });
  const config = [
    `operator: ${operatorJwt}`,
    `system_account: ${system.getPublicKey()}`,
    'resolver: MEMORY',
    `resolver_preload: {\n  ${system.getPublicKey()}: ${systemJwt}\n  ${account.getPublicKey()}: ${accountJwt}\n}`,
  ].join('\n');
  const creds = (name: string, perms: Permissions) => {
    const user = nkeys.createUser();
    const jwt = natsJwt(account, user.getPublicKey(), name, {
      type: 'user',
      pub: { allow: perms.publish },
      sub: { allow: perms.subscribe },
      subs: -1,
      data: -1,
      payload: -1,
    });
    return `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n${seedOf(user)}\n------END USER NKEY SEED------\n`;
  };
  return { config, creds };
}

/** A CA, a certificate for a server on 127.0.0.1 and one client certificate per name, as files in `dir`. */
export function certificates(dir: string, clients: string[]): { ca: string; cert: (name: string) => string; key: (name: string) => string } {
  fs.mkdirSync(dir, { recursive: true });
  const f = (name: string) => path.join(dir, name);
  const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '1', '-subj', '/CN=specter test CA']);
  const issue = (name: string, ext: string) => {
    openssl(['req', ...ec, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}`]);
    fs.writeFileSync(f(`${name}.ext`), `${ext}\n`);
    openssl([
      'x509',
      '-req',
      '-in',
      f(`${name}.csr`),
      '-CA',
      f('ca.pem'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-days',
      '1',
      '-out',
      f(`${name}.pem`),
      '-extfile',
      f(`${name}.ext`),
    ]);
  };
  issue('server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth');
  for (const c of clients) issue(c, 'extendedKeyUsage=clientAuth');
  return { ca: f('ca.pem'), cert: (name) => f(`${name}.pem`), key: (name) => f(`${name}.key`) };
}
