/**
 * Collectors: three sensors into one PostgreSQL table with the same LOGEMU
 * lines as at the sensors, a collector killed with -9 in the middle of a
 * stream, two collectors sharing one durable consumer, and messages that are
 * no specter records. Truth is the nft counters of the sensors' rules.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { describe, it } from 'node:test';
import { NODE_ARGS, ROOT } from '../daemon.js';
import { ForwardLab, identities } from '../forward-lab.js';

const psql = (db: string, sql: string) =>
  execFileSync('psql', ['-h', '/var/run/postgresql', '-U', 'postgres', '-d', db, '-qAt', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8' }).trim();

/** A database of the test's own with a table keyed by (sensor, seq), as doc/forwarding.md recommends. */
function database(): { db: string; conf: string; drop: () => void } {
  const db = `specter_fwd_${randomBytes(4).toString('hex')}`;
  psql('postgres', `CREATE DATABASE ${db}`);
  psql(
    db,
    'CREATE TABLE ulog (id bigserial PRIMARY KEY, sensor_name text NOT NULL, sensor_seq bigint NOT NULL, oob_prefix text, ip_daddr_str text, UNIQUE (sensor_name, sensor_seq))',
  );
  return {
    db,
    conf: ` plugin PGSQL\n pgsqlhost /var/run/postgresql\n pgsqldb ${db}\n pgsqluser postgres\n pgsqltable ulog\n pgsqlspooldir ${path.join('/tmp', db)}\n`,
    drop: () => void psql('postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`),
  };
}

const rows = (db: string) => Number(psql(db, 'SELECT count(*) FROM ulog'));
const distinct = (db: string) => Number(psql(db, 'SELECT count(DISTINCT (sensor_name, sensor_seq)) FROM ulog'));
const jsonOut = (file: string) => ` plugin JSON\n jsonfile ${file}\n jsonfields sensor.name,sensor.seq\n jsonsync\n`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('collectors', { timeout: 240000 }, () => {
  it('three sensors into one table: rows are the sum of the counters, none twice, the LOGEMU lines as at the sensors', async () => {
    const lab = new ForwardLab('spt-fwd-three', [1, 2, 3]);
    const pg = database();
    try {
      await lab.nats.start();
      const collected = path.join(lab.dir, 'collector.logemu');
      const coll = await lab.collector('coll', `${pg.conf} plugin LOGEMU\n logemufile ${collected}\n logemusync\n`);
      const local = (g: number) => path.join(lab.dir, `fw${g}.logemu`);
      for (const g of [1, 2, 3]) await lab.sensor(`fw${g}`, g, ` plugin LOGEMU\n logemufile ${local(g)}\n logemusync\n`);
      await Promise.all([lab.ping(1, 400).done, lab.ping(2, 300).done, lab.ping(3, 200).done]);
      const sum = lab.counter(1) + lab.counter(2) + lab.counter(3);
      assert.equal(sum, 900);
      await lab.until(() => rows(pg.db) >= sum && lab.lines(collected).length >= sum, 60000, `${sum} rows and lines`);
      await sleep(1000);
      assert.equal(rows(pg.db), sum, 'rows = the sum of the counters');
      assert.equal(distinct(pg.db), sum, 'no (sensor, seq) twice');
      assert.equal(
        psql(pg.db, "SELECT string_agg(sensor_name || '=' || n, ',' ORDER BY sensor_name) FROM (SELECT sensor_name, count(*) n FROM ulog GROUP BY 1) c"),
        'fw1=400,fw2=300,fw3=200',
      );
      // The collector writes the very line each sensor wrote for the same packet.
      const atSensors = [1, 2, 3].flatMap((g) => lab.lines(local(g))).sort();
      assert.equal(atSensors.length, sum);
      assert.deepEqual(lab.lines(collected).sort(), atSensors);
      assert.match(lab.lines(collected)[0], / fw\d s\d: IN=lo /);
      assert.equal(await coll.stop(), 0);
      assert.equal(coll.counters('PGSQL', 100)?.dropped, 0);
    } finally {
      await lab.close();
      pg.drop();
    }
  });

  it('a collector killed with -9 in the middle of a stream and started again: no loss, no row twice', async () => {
    const lab = new ForwardLab('spt-fwd-ckill', [4]);
    const pg = database();
    try {
      await lab.nats.start();
      let coll = await lab.collector('coll', pg.conf);
      await lab.sensor('fw4', 4);
      const traffic = lab.ping(4, 2000, 0.004);
      await lab.until(() => rows(pg.db) > 300, 20000, 'rows before the kill');
      coll.proc.kill('SIGKILL');
      await coll.wait();
      const before = rows(pg.db);
      await sleep(2000);
      coll = await lab.collector('coll', pg.conf);
      await traffic.done;
      const sent = lab.counter(4);
      await lab.until(() => rows(pg.db) >= sent, 90000, `${sent} rows`);
      await sleep(1500);
      assert.ok(before < sent, `the kill came in the middle (${before} of ${sent})`);
      assert.equal(rows(pg.db), sent, 'every logged packet has its row');
      assert.equal(distinct(pg.db), sent, 'none twice');
      assert.equal(await coll.stop(), 0);
    } finally {
      await lab.close();
      pg.drop();
    }
  });

  it('two collectors on one durable: each writes some, together all, none twice', async () => {
    const lab = new ForwardLab('spt-fwd-two', [5]);
    try {
      await lab.nats.start();
      const a = path.join(lab.dir, 'a.json');
      const b = path.join(lab.dir, 'b.json');
      await lab.collector('colla', jsonOut(a).replace(' plugin JSON\n', ' natsbatch 20\n plugin JSON\n'));
      await lab.collector('collb', jsonOut(b).replace(' plugin JSON\n', ' natsbatch 20\n plugin JSON\n'));
      await lab.sensor('fw5', 5);
      await lab.ping(5, 1500, 0.004).done;
      const sent = lab.counter(5);
      await lab.until(() => lab.jsonRecords(a).length + lab.jsonRecords(b).length >= sent, 60000, `${sent} records`);
      await sleep(1500);
      const ra = lab.jsonRecords(a);
      const rb = lab.jsonRecords(b);
      assert.ok(ra.length > 0 && rb.length > 0, `both collectors wrote (${ra.length} and ${rb.length})`);
      const { all, twice } = identities([...ra, ...rb]);
      assert.deepEqual(twice, [], 'none twice');
      assert.equal(all.size, sent, 'together all');
    } finally {
      await lab.close();
    }
  });

  it('counts, logs and terminates messages that are no specter records, and keeps collecting', async () => {
    const lab = new ForwardLab('spt-fwd-garbage', [6]);
    try {
      await lab.nats.start();
      const out = path.join(lab.dir, 'collected.json');
      const coll = await lab.collector('coll', jsonOut(out));
      await lab.sensor('fw6', 6);
      await lab.ping(6, 50).done;
      // Garbage, a record of an unknown version and an empty message, on the sensors' subjects.
      const script = `
        import { connect } from '@nats-io/transport-node';
        import { jetstream } from '@nats-io/jetstream';
        const nc = await connect({ servers: '${lab.nats.url}' });
        const js = jetstream(nc);
        const v9 = new Uint8Array(40); v9[0] = 0x53; v9[1] = 9; v9[3] = 1;
        await js.publish('specter.fw6.6', new TextEncoder().encode('{"hello":"world"}'));
        await js.publish('specter.other.1', v9);
        await js.publish('specter.other.1', new Uint8Array(0));
        await nc.close();`;
      execFileSync('ip', ['netns', 'exec', lab.ns.name, process.execPath, ...NODE_ARGS, '--input-type=module', '-e', script], { cwd: ROOT, stdio: 'pipe' });
      await lab.ping(6, 50).done;
      await lab.until(() => lab.jsonRecords(out).length >= 100, 30000, 'the records around the garbage');
      await sleep(1000);
      assert.equal(coll.proc.exitCode, null, 'the collector runs on');
      assert.equal(lab.jsonRecords(out).length, lab.counter(6));
      assert.equal(await coll.stop(), 0);
      const c = coll.counters('NATS SPECTER/central', 100)!;
      assert.equal(c.garbage, 3);
      assert.equal(c.sent, 100);
      const said = coll.stderr.split('\n').filter((l) => l.includes('is not a specter record'));
      assert.equal(said.length, 2, 'once per subject');
      assert.match(said.join('\n'), /specter\.fw6\.6.*not a specter record/);
      assert.match(said.join('\n'), /specter\.other\.1.*version 9/);
    } finally {
      await lab.close();
    }
  });
});
