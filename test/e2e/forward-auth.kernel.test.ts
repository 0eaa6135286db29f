/**
 * Forwarding with each way a sensor and a collector can authenticate to a
 * NATS server: users with passwords and per-sensor permissions (as
 * doc/forwarding.md shows them), a token, nkeys, .creds files of an
 * operator/account setup, and TLS with client certificates. Each case has a
 * nats-server of its own configured for it; the sensors log kernel packets
 * and the collector writes what it gets to a JSON file, checked against the
 * nft counters. A sensor that the server refuses says why in one line, keeps
 * what it accepted in its spool and runs on.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Daemon, writeConfig } from '../daemon.js';
import { ForwardLab, identities } from '../forward-lab.js';
import { certificates, operatorSetup, userNkey } from '../nats-auth.js';

const jsonOut = (file: string) => ` plugin JSON\n jsonfile ${file}\n jsonfields sensor.name,sensor.seq\n jsonsync\n`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A line of a stack trace. */
const STACK = /^\s+at /m;
/** The permissions doc/forwarding.md gives a sensor and the collector. */
const sensorPerms = (name: string) => `permissions: { publish: { allow: ["specter.${name}.>"] }, subscribe: { allow: ["_INBOX.>"] } }`;
const collectorPerms = 'permissions: { publish: { allow: ["$JS.API.>", "$JS.ACK.SPECTER.>"] }, subscribe: { allow: ["_INBOX.>"] } }';

/** Records of sensor `name` the collector wrote. */
const of = (lab: ForwardLab, out: string, name: string) => lab.jsonRecords(out).filter((r) => r['sensor.name'] === name);

/** Waits until the collector wrote `logged` records of sensor `name`, and checks that they are all there, once each. */
async function arrivedOnce(lab: ForwardLab, out: string, name: string, logged: number): Promise<void> {
  await lab.until(() => of(lab, out, name).length >= logged, 30000, `${logged} records of ${name}`);
  await sleep(300);
  const { all, twice } = identities(of(lab, out, name));
  assert.deepEqual(twice, [], 'no record twice');
  assert.equal(all.size, logged, `the ${logged} records ${name} logged, at the collector`);
}

/** Pings through sensor `s<g>`'s rule and checks that the collector wrote every logged packet once, and the sensor's spool emptied. */
async function forwardsAll(lab: ForwardLab, sensor: Daemon, g: number, out: string): Promise<void> {
  await lab.ping(g, 200).done;
  const logged = lab.counter(g);
  assert.equal(logged, 200);
  await arrivedOnce(lab, out, `s${g}`, logged);
  assert.equal(await sensor.stop(), 0);
  const c = sensor.counters('NATS', g)!;
  assert.equal(c.received, logged);
  assert.equal(c.sent, logged, 'JetStream acknowledged every record');
  assert.equal(c.spool_bytes, 0);
  assert.doesNotMatch(sensor.stderr, STACK);
}

/**
 * A sensor the server refused runs on; stopped, it counts every record it logged as received, none sent or
 * lost. Started again with `fixed` options, it sends what waited in its spool.
 */
async function keptThenSent(lab: ForwardLab, sensor: Daemon, g: number, out: string, fixed: string): Promise<void> {
  const name = `s${g}`;
  assert.equal(sensor.proc.exitCode, null, `${name} runs on`);
  assert.equal(await sensor.stop(), 0);
  assert.doesNotMatch(sensor.stderr, STACK);
  const logged = lab.counter(g);
  assert.ok(logged > 0);
  const c = sensor.counters('NATS', g)!;
  assert.equal(c.received, logged);
  assert.equal(c.sent, 0);
  assert.equal(c.dropped + c.diverted, 0);
  assert.ok(c.spool_bytes > 0, 'the records wait in the spool');
  assert.equal(of(lab, out, name).length, 0, `nothing of ${name} at the collector yet`);
  const again = await lab.sensor(name, g, fixed);
  await arrivedOnce(lab, out, name, logged);
  assert.equal(await again.stop(), 0);
}

/** The messages of a daemon's log lines that match `re`, with their level. */
const said = (d: Daemon, re: RegExp) =>
  d.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number; msg: string })
    .filter((l) => re.test(l.msg));

describe('forwarding with authentication', { timeout: 120000 }, () => {
  it('users with passwords and per-sensor permissions: what the user may publish arrives, the rest waits in the spool with a line saying why', async () => {
    const lab = new ForwardLab('spt-auth-user', [1, 2, 3]);
    try {
      const users = (s3password: string) => `authorization {
  users = [
    { user: s1, password: pw-s1, ${sensorPerms('s1')} }
    { user: s2, password: pw-s2, ${sensorPerms('s2')} }
    { user: s3, password: ${s3password}, ${sensorPerms('s3')} }
    { user: collector, password: pw-coll, ${collectorPerms} }
  ]
}`;
      lab.nats.config = users('pw-s3-old');
      await lab.nats.start();
      const out = path.join(lab.dir, 'collected.json');
      await lab.collector('coll', ` natsuser collector\n natspass pw-coll\n${jsonOut(out)}`);
      const s1 = await lab.sensor('s1', 1, ' natsuser s1\n natspass pw-s1\n');
      // Sensor s2 logs in as s1, who may not publish on specter.s2.>; s3 has a password the server does not know yet.
      const s2 = await lab.sensor('s2', 2, ' natsuser s1\n natspass pw-s1\n');
      const s3 = await lab.sensor('s3', 3, ' natsuser s3\n natspass pw-s3-new\n');
      await Promise.all([lab.ping(2, 100).done, lab.ping(3, 100).done]);
      await forwardsAll(lab, s1, 1, out);

      await lab.until(() => /Permissions Violation/.test(s2.stderr), 10000, 'the permission problem in the log');
      assert.match(said(s2, /Permissions Violation/)[0].msg, /^NATS: JetStream did not acknowledge \(Permissions Violation for Publish to "specter\.s2\.2"/);
      // Long enough for a few connection attempts, reported once.
      await sleep(3500);
      const refused = said(s3, /Authorization Violation/);
      assert.equal(refused.length, 1, s3.stderr);
      assert.equal(refused[0].level, 50);
      assert.match(refused[0].msg, /^NATS: cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+: Authorization Violation; spooling in \S+ and trying again$/);
      await keptThenSent(lab, s2, 2, out, ' natsuser s2\n natspass pw-s2\n');

      // The server learns s3's new password: s3 connects by itself and sends what it spooled meanwhile.
      assert.equal(of(lab, out, 's3').length, 0);
      lab.nats.config = users('pw-s3-new');
      await lab.nats.reload();
      await arrivedOnce(lab, out, 's3', lab.counter(3));
      assert.equal(await s3.stop(), 0);
      assert.equal(s3.counters('NATS', 3)!.sent, lab.counter(3));
      assert.doesNotMatch(s3.stderr, STACK);

      // A collector refused at its start says so in one line and exits.
      const conf = writeConfig(
        lab.dir,
        `global {\n sensor coll2\n}\n100 {\n source NATS\n natsurl ${lab.nats.url}\n natsuser collector\n natspass wrong\n${jsonOut(path.join(lab.dir, 'c2.json'))}}\n`,
        'coll2.conf',
      );
      const c2 = new Daemon(lab.ns, conf);
      assert.equal(await c2.wait(), 1);
      assert.equal(c2.stderr.trim(), `specter: cannot connect to NATS at ${lab.nats.url}: Authorization Violation`);
    } finally {
      await lab.close();
    }
  });

  it('a token', async () => {
    const lab = new ForwardLab('spt-auth-token', [4]);
    try {
      const token = randomBytes(16).toString('hex');
      lab.nats.config = `authorization { token: "${token}" }`;
      await lab.nats.start();
      const out = path.join(lab.dir, 'collected.json');
      await lab.collector('coll', ` natstoken ${token}\n${jsonOut(out)}`);
      await forwardsAll(lab, await lab.sensor('s4', 4, ` natstoken ${token}\n`), 4, out);
    } finally {
      await lab.close();
    }
  });

  it('nkeys', async () => {
    const lab = new ForwardLab('spt-auth-nkey', [5]);
    try {
      const sensor = userNkey();
      const collector = userNkey();
      lab.nats.config = `authorization {
  users = [
    { nkey: ${sensor.publicKey}, ${sensorPerms('s5')} }
    { nkey: ${collector.publicKey}, ${collectorPerms} }
  ]
}`;
      const seedFile = (name: string, seed: string) => {
        const f = path.join(lab.dir, `${name}.nk`);
        fs.writeFileSync(f, `${seed}\n`, { mode: 0o600 });
        return f;
      };
      await lab.nats.start();
      const out = path.join(lab.dir, 'collected.json');
      await lab.collector('coll', ` natsnkey ${seedFile('collector', collector.seed)}\n${jsonOut(out)}`);
      await forwardsAll(lab, await lab.sensor('s5', 5, ` natsnkey ${seedFile('s5', sensor.seed)}\n`), 5, out);
    } finally {
      await lab.close();
    }
  });

  it('.creds files of an operator/account setup', async () => {
    const lab = new ForwardLab('spt-auth-creds', [6]);
    try {
      const setup = operatorSetup();
      lab.nats.config = setup.config;
      const credsFile = (name: string, text: string) => {
        const f = path.join(lab.dir, `${name}.creds`);
        fs.writeFileSync(f, text, { mode: 0o600 });
        return f;
      };
      const sensorCreds = credsFile('s6', setup.creds('s6', { publish: ['specter.s6.>'], subscribe: ['_INBOX.>'] }));
      const collectorCreds = credsFile('collector', setup.creds('collector', { publish: ['$JS.API.>', '$JS.ACK.SPECTER.>'], subscribe: ['_INBOX.>'] }));
      await lab.nats.start();
      const out = path.join(lab.dir, 'collected.json');
      await lab.collector('coll', ` natscreds ${collectorCreds}\n${jsonOut(out)}`);
      await forwardsAll(lab, await lab.sensor('s6', 6, ` natscreds ${sensorCreds}\n`), 6, out);
    } finally {
      await lab.close();
    }
  });

  it('TLS with client certificates: a sensor without one says so in one line and keeps its records', async () => {
    const lab = new ForwardLab('spt-auth-tls', [7, 8]);
    try {
      const pki = certificates(path.join(lab.dir, 'pki'), ['s7', 's8', 'collector']);
      lab.nats.config = `tls {
  cert_file: "${pki.cert('server')}"
  key_file: "${pki.key('server')}"
  ca_file: "${pki.ca}"
  verify: true
}`;
      await lab.nats.start();
      const tlsOpts = (name: string) => ` natstlsca ${pki.ca}\n natstlscert ${pki.cert(name)}\n natstlskey ${pki.key(name)}\n`;
      // First the sensor without a certificate: the server ends its connections after the handshake.
      const s8 = await lab.sensor('s8', 8, ` natstlsca ${pki.ca}\n`);
      const out = path.join(lab.dir, 'collected.json');
      await lab.collector('coll', `${tlsOpts('collector')}${jsonOut(out)}`);
      const s7 = await lab.sensor('s7', 7, tlsOpts('s7'));
      await lab.ping(8, 100).done;
      await forwardsAll(lab, s7, 7, out);

      await lab.until(() => /client certificate/.test(s8.stderr), 20000, 'the missing certificate in the log');
      const refused = said(s8, /cannot connect to NATS/);
      assert.equal(refused.length, 1, s8.stderr);
      assert.match(
        refused[0].msg,
        /the server ended the TLS connection \(alert "bad certificate"\): it wants a client certificate it trusts \(natstlscert, natstlskey\); spooling in /,
      );
      await keptThenSent(lab, s8, 8, out, tlsOpts('s8'));
    } finally {
      await lab.close();
    }
  });
});
