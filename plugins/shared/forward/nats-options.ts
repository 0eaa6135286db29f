/**
 * What the NATS output (sensor) and the NATS source (collector) share: the
 * server list, credentials and TLS options, and turning them into the
 * client's connection options. Files named by options are read at start(),
 * so --check opens nothing, and a missing file is one line naming the option.
 */
import fs from 'node:fs';
import { credsAuthenticator, nkeyAuthenticator, type ConnectionOptions } from '@nats-io/transport-node';
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
    // Reconnect for ever: the spool (sensor) or the stream (collector) holds what waits.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
    waitOnFirstConnect: true,
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
    opts.tls = {};
    if (o.natstlsca !== undefined) opts.tls.ca = read('natstlsca', o.natstlsca);
    if (o.natstlscert !== undefined && o.natstlskey !== undefined) {
      opts.tls.cert = read('natstlscert', o.natstlscert);
      opts.tls.key = read('natstlskey', o.natstlskey);
    }
  }
  return opts;
}
