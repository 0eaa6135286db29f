/**
 * Forwarding when things fail on the way: the NATS server away for 10 s in
 * the middle of a stream, a sensor killed with -9, and a spool past its
 * highwater while the server is away. Truth is the nft counter of the
 * sensor's rule (or the spool as it was at the kill); the collector writes
 * every record it gets to a JSON file with its sensor and sequence number.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { firstSeq, lastSeq, recordCount } from '../../plugins/shared/forward/record-codec.js';
import { Spool } from '../../plugins/output/NATS/spool.js';
import { Daemon, writeConfig } from '../daemon.js';
import { ForwardLab, identities } from '../forward-lab.js';

const jsonOut = (file: string) => ` plugin JSON\n jsonfile ${file}\n jsonfields sensor.name,sensor.seq,oob.prefix\n jsonsync\n`;

describe('forwarding through failures', { timeout: 180000 }, () => {
  it('loses and duplicates nothing when the NATS server stops for 10 s in the middle of a stream', async () => {
    const lab = new ForwardLab('spt-fwd-stop', [1]);
    try {
      await lab.nats.start();
      const out = path.join(lab.dir, 'collected.json');
      await lab.collector('coll', jsonOut(out));
      const sensor = await lab.sensor('fw1', 1);
      const traffic = lab.ping(1, 3000, 0.005);
      await new Promise((r) => setTimeout(r, 3000));
      await lab.nats.stop('SIGKILL');
      await new Promise((r) => setTimeout(r, 10000));
      await lab.nats.start();
      await traffic.done;
      const sent = lab.counter(1);
      assert.ok(sent > 2000, `${sent} packets logged`);
      await lab.until(() => lab.jsonRecords(out).length >= sent, 60000, `${sent} records at the collector`);
      await new Promise((r) => setTimeout(r, 1000));
      const got = lab.jsonRecords(out);
      const { all, twice } = identities(got);
      assert.deepEqual(twice, [], 'no record twice');
      assert.equal(got.length, sent, 'every logged packet once');
      assert.equal(all.size, sent);
      assert.equal(await sensor.stop(), 0);
      const c = sensor.counters('NATS', 1)!;
      assert.equal(c.received, sent);
      assert.ok(c.errors > 0, 'publishes failed while the server was away');
      assert.equal(c.dropped, 0);
      // Nothing is published while the connection is down: sent again are only the records in flight when it
      // dropped (the traffic of a second at most), not a copy of the spool for every retry during the outage.
      assert.ok(c.republished <= 200, `${c.republished} records published again`);
      assert.ok(c.duplicates <= c.republished, `${c.duplicates} records the stream had already`);
    } finally {
      await lab.close();
    }
  });

  it('keeps what a sensor killed with -9 had spooled and sends it once after the restart', async () => {
    const lab = new ForwardLab('spt-fwd-kill', [2]);
    try {
      await lab.nats.start();
      const out = path.join(lab.dir, 'collected.json');
      await lab.collector('coll', jsonOut(out));
      // The server goes away first, so the sensor's records pile up in its spool.
      await lab.nats.stop('SIGKILL');
      let sensor = await lab.sensor('fw2', 2);
      const traffic = lab.ping(2, 600, 0.005);
      const segBytes = () =>
        fs
          .readdirSync(path.join(lab.spoolDir('fw2'), 'group-2'))
          .filter((f) => f.endsWith('.seg'))
          .reduce((n, f) => n + fs.statSync(path.join(lab.spoolDir('fw2'), 'group-2', f)).size, 0);
      await lab.until(() => segBytes() > 50000, 20000, 'the sensor to spool');
      sensor.proc.kill('SIGKILL');
      await sensor.wait();
      await traffic.done;
      // What the spool holds after the kill is what must arrive.
      const spool = new Spool(path.join(lab.spoolDir('fw2'), 'group-2'), lastSeq);
      const spooled: number[] = [];
      for (let b = spool.readNext(10000); b; b = spool.readNext(10000))
        for (const s of b.starts) for (let i = 0; i < recordCount(b.buf, s); i++) spooled.push(firstSeq(b.buf, s) + i);
      spool.close();
      assert.ok(spooled.length > 100, `${spooled.length} records spooled before the kill`);

      await lab.nats.start();
      sensor = await lab.sensor('fw2', 2);
      const more = lab.ping(2, 100, 0.005);
      await more.done;
      await lab.until(() => lab.jsonRecords(out).length >= spooled.length + 100, 60000, 'the spooled and the new records');
      await new Promise((r) => setTimeout(r, 1000));
      const got = lab.jsonRecords(out);
      const { all, twice } = identities(got);
      assert.deepEqual(twice, [], 'no record twice');
      for (const s of spooled) assert.ok(all.has(`fw2:${s}`), `spooled record ${s} arrived`);
      assert.equal(got.length, spooled.length + 100, 'the spooled records and the 100 of the second run');
      const seqs = got.map((r) => Number(r['sensor.seq']));
      assert.ok(Math.min(...seqs.slice(spooled.length)) > Math.max(...spooled), 'the sequence goes on increasing after the restart');
    } finally {
      await lab.close();
    }
  });

  it("refuses to start with -u when the spool directory is not the user's, in one line", async () => {
    const lab = new ForwardLab('spt-fwd-user', [7]);
    try {
      const conf = writeConfig(
        lab.dir,
        `global {\n sensor fw7\n}\n7 {\n plugin BASE\n plugin NATS\n natsurl ${lab.nats.url}\n spooldir ${lab.spoolDir('fw7')}\n}\n`,
        'user.conf',
      );
      const d = new Daemon(lab.ns, conf, ['-u', 'nobody']);
      assert.equal(await d.wait(), 1);
      assert.match(d.stderr, /NATS cannot start: the spool directory \S+spool-fw7\S* is not writable by the user the daemon runs as/);
    } finally {
      await lab.close();
    }
  });

  it('diverts records to the dropto output past highwater, and every record is in the stream or the drop file', async () => {
    const lab = new ForwardLab('spt-fwd-hw', [3]);
    try {
      await lab.nats.start();
      const out = path.join(lab.dir, 'collected.json');
      await lab.collector('coll', jsonOut(out));
      await lab.nats.stop('SIGKILL');
      const dropFile = path.join(lab.dir, 'dropped.log');
      const sensor = await lab.sensor('fw3', 3, ` highwater 64K\n lowwater 32K\n dropto LOGEMU\n plugin LOGEMU\n logemufile ${dropFile}\n logemusync\n`);
      await lab.ping(3, 1000, 0.002).done;
      const sent = lab.counter(3);
      await lab.until(() => lab.lines(dropFile).length > 0, 10000, 'diverted records');
      await lab.nats.start();
      await lab.until(() => /spool is under lowwater again/.test(sensor.stderr), 30000, 'the spool to drain');
      await lab.ping(3, 200, 0.005).done;
      const total = lab.counter(3);
      await new Promise((r) => setTimeout(r, 2000));
      assert.equal(await sensor.stop(), 0);
      await lab.until(() => lab.jsonRecords(out).length + lab.lines(dropFile).length >= total, 30000, 'every record somewhere');
      await new Promise((r) => setTimeout(r, 1000));
      const c = sensor.counters('NATS', 3)!;
      const streamed = lab.jsonRecords(out);
      const diverted = lab.lines(dropFile);
      assert.deepEqual(identities(streamed).twice, []);
      assert.ok(diverted.length > 0 && streamed.length > 0, `${streamed.length} streamed, ${diverted.length} diverted of ${sent} while away`);
      assert.equal(c.diverted, diverted.length, 'the counter says how many were diverted');
      assert.equal(streamed.length + diverted.length + c.dropped, total, 'stream + drop file + dropped = the kernel counter');
      assert.match(sensor.stderr, /records were diverted to the drop output meanwhile/);
    } finally {
      await lab.close();
    }
  });
});
