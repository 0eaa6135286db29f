/**
 * What the NATS output (sensor) and the NATS source (collector) share: the
 * server list, credentials and TLS options, and turning them into the
 * client's connection options. Files named by options are read at start(),
 * so --check opens nothing, and a missing file is one line naming the option.
 */
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { credsAuthenticator, nkeyAuthenticator, type ConnectionOptions, type TlsOptions } from '@nats-io/transport-node';
import type { OptionSpecs, OptionValuesOf } from 'specter/plugin';

export const NATS_CONNECTION_OPTIONS = {
  natsurl: { type: 'string', default: 'nats://127.0.0.1:4222', description: 'NATS server URL, or a comma-separated list for a cluster' },
  natsstream: { type: 'string', default: 'SPECTER', description: 'JetStream stream that holds the records' },
  natsuser: { type: 'string', description: 'user name (with natspass)' },
  natspass: { type: 'string', description: 'password (with natsuser)' },
  natstoken: { type: 'string', description: 'authentication token' },
  natscreds: { type: 'string', description: 'a .creds file (JWT and nkey seed) for decentralized authentication' },
  natsnkey: { type: 'string', description: 'a file holding an nkey seed (SU...)' },
  natstls: { type: 'bool', default: false, description: 'require TLS even when the URL does not say tls://' },
  natstlsca: { type: 'string', description: "CA certificate file that signed the server's certificate" },
  natstlscert: { type: 'string', description: 'client certificate file (with natstlskey)' },
  natstlskey: { type: 'string', description: 'client key file (with natstlscert)' },
} as const satisfies OptionSpecs;

/** The connection options' values, typed by the table above. */
export type NatsConnectionValues = OptionValuesOf<typeof NATS_CONNECTION_OPTIONS>;

type Fail = (message: string, option?: string) => never;

/** Checks the combinations of options (at create time, under --check too). */
export function checkConnectionOptions(o: NatsConnectionValues, fail: Fail): void {
  const servers = serverList(o);
  if (servers.length === 0) fail('names no server', 'natsurl');
  for (const s of servers) {
    if (!/^(nats|tls):\/\/[^\s/]+$/.test(s) && !/^[^\s:/]+:\d+$/.test(s)) fail(`"${s}" is not a NATS URL (nats://host:port or tls://host:port)`, 'natsurl');
  }
  if ((o.natsuser === undefined) !== (o.natspass === undefined)) fail('natsuser and natspass go together', o.natsuser === undefined ? 'natspass' : 'natsuser');
  const methods = [o.natsuser !== undefined, o.natstoken !== undefined, o.natscreds !== undefined, o.natsnkey !== undefined].filter(Boolean).length;
  if (methods > 1) fail('give one way to authenticate: natsuser/natspass, natstoken, natscreds or natsnkey', 'natstoken');
  if ((o.natstlscert === undefined) !== (o.natstlskey === undefined))
    fail('natstlscert and natstlskey go together', o.natstlscert === undefined ? 'natstlskey' : 'natstlscert');
  if (!/^[A-Za-z0-9_-]+$/.test(o.natsstream)) fail('a stream name has only letters, digits, - and _', 'natsstream');
}

function serverList(o: NatsConnectionValues): string[] {
  return o.natsurl
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The client's connection options; reads the credential and TLS files (a missing one fails naming its option). */
export function connectionOptions(o: NatsConnectionValues, name: string, fail: Fail): ConnectionOptions {
  const read = (option: string, file: string): string => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch (err) {
      return fail(`cannot read ${file}: ${(err as Error).message}`, option);
    }
  };
  const servers = serverList(o);
  const opts: ConnectionOptions = {
    servers,
    name,
    // Reconnect for ever, refused credentials included (a server whose configuration is being fixed): the spool
    // (sensor) or the stream (collector) holds what waits. A first connection fails at once, so its reason is known.
    maxReconnectAttempts: -1,
    ignoreAuthErrorAbort: true,
    reconnectTimeWait: 1000,
    waitOnFirstConnect: false,
    timeout: 5000,
    pingInterval: 10_000,
    maxPingOut: 3,
    // Else the client builds two Error objects (with stacks) for every publish, ahead of a timeout that rarely comes.
    noAsyncTraces: true,
  };
  // checkConnectionOptions made sure that natsuser and natspass, natstlscert and natstlskey come in pairs.
  if (o.natsuser !== undefined) {
    opts.user = o.natsuser;
    opts.pass = o.natspass;
  }
  if (o.natstoken !== undefined) opts.token = o.natstoken;
  if (o.natscreds !== undefined) opts.authenticator = credsAuthenticator(new TextEncoder().encode(read('natscreds', o.natscreds)));
  if (o.natsnkey !== undefined) {
    const seed = read('natsnkey', o.natsnkey).trim();
    if (!seed.startsWith('SU')) fail('the file holds no user nkey seed (SU...)', 'natsnkey');
    opts.authenticator = nkeyAuthenticator(new TextEncoder().encode(seed));
  }
  if (o.natstls || o.natstlsca !== undefined || o.natstlscert !== undefined || servers.some((s) => s.startsWith('tls://'))) {
    const t: TlsOptions & tls.ConnectionOptions = {};
    if (o.natstlsca !== undefined) t.ca = read('natstlsca', o.natstlsca);
    if (o.natstlscert !== undefined && o.natstlskey !== undefined) {
      t.cert = read('natstlscert', o.natstlscert);
      t.key = read('natstlskey', o.natstlskey);
    }
    // The client gives Node no server name for a server named by its IP address, and Node then checks the
    // certificate against "localhost": accept a certificate naming one of the addresses of natsurl instead.
    const ips = servers.map((s) => hostPort(s).host).filter((h) => net.isIP(h));
    if (ips.length)
      t.checkServerIdentity = (host, cert) => {
        const err = tls.checkServerIdentity(host, cert);
        if (!err || host !== 'localhost') return err;
        return ips.some((ip) => !tls.checkServerIdentity(ip, cert)) ? undefined : tls.checkServerIdentity(ips[0], cert);
      };
    opts.tls = t;
  }
  return opts;
}

function hostPort(server: string): { host: string; port: number } {
  const m = /^(?:[a-z]+:\/\/)?(.*):(\d+)$/.exec(server)!;
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port: Number(m[2]) };
}

/**
 * Why a first connection failed, in words for the log. A server that wants a client certificate ends the
 * connection right after the TLS handshake, and the client then only reports a timeout: a TLS connection of
 * our own to the server says what the server objected to.
 */
export async function connectFailure(opts: ConnectionOptions, err: Error): Promise<string> {
  if (!opts.tls || !/timeout/i.test(err.message)) return err.message;
  const servers = Array.isArray(opts.servers) ? opts.servers : [opts.servers ?? ''];
  const alert = await tlsAlert(hostPort(servers[0]), opts.tls as tls.ConnectionOptions);
  if (!alert) return err.message;
  return alert === 'bad certificate' || alert === 'certificate required'
    ? `the server ended the TLS connection (alert "${alert}"): it wants a client certificate it trusts (natstlscert, natstlskey)`
    : `the server ended the TLS connection (alert "${alert}")`;
}

/** The TLS alert the server sends after the handshake, if any within 3 s. */
function tlsAlert(server: { host: string; port: number }, options: tls.ConnectionOptions): Promise<string | undefined> {
  return new Promise((resolve) => {
    const sock = net.connect(server.port, server.host);
    const done = (why: string | undefined) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(why);
    };
    const timer = setTimeout(() => done(undefined), 3000);
    sock.on('error', () => done(undefined));
    // The server speaks first, in clear (INFO), then the client starts TLS.
    sock.once('data', () => {
      const s = tls.connect({ ...options, socket: sock }, () => s.write('CONNECT {"verbose":false}\r\nPING\r\n'));
      s.on('data', () => done(undefined));
      s.on('error', (e) => done(/alert ([a-z ]+)/.exec(e.message)?.[1]));
    });
  });
}
