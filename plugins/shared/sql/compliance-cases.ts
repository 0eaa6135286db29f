/**
 * The component contract for a server SQL output (PGSQL, MYSQL), against the
 * real server: rows committed, rows waiting in spool files during the run,
 * rows the table refuses, and a server that is away (rows spooled at close).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkCompliance } from '../../../test/compliance.js';
import { tempDir } from '../../../test/daemon.js';

export interface ComplianceServer {
  plugin: 'PGSQL' | 'MYSQL';
  /** Creates the database anew with `table` in it; returns the options that reach it. */
  create(db: string, table: string): { [name: string]: string | number };
  /** The same database at an address where no server answers. */
  unreachable(db: string): { [name: string]: string | number };
  count(db: string, where?: string): number;
  drop(db: string): void;
  /** A table with an oob_mark column that refuses marks ending in 3, and ip_saddr_str. */
  checkedTable: string;
}

const PLAIN = 'CREATE TABLE ulog (oob_mark bigint, ip_saddr_str varchar(64))';

export function complianceCases(s: ComplianceServer): void {
  const p = s.plugin.toLowerCase();
  const db = `spt_compliance_${p}_${process.pid}`;
  let dir: string;
  before(() => {
    dir = tempDir(`specter-${p}-compliance-`);
  });
  after(() => {
    s.drop(db);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe(`${s.plugin} compliance`, () => {
    it('commits every row, and spools what is not written at a close without flush', async () => {
      const opts = s.create(db, PLAIN);
      const spool = path.join(dir, 'all');
      const { closed } = await checkCompliance(s.plugin, { ...opts, [`${p}spooldir`]: spool }, { expect: { sent: 300, dropped: 0, errors: 0 } });
      const c = closed!.counters;
      assert.equal(s.count(db), 300 + c.sent, JSON.stringify(c));
      assert.equal(c.sent + (c.spooled ?? 0), 300);
    });
  });

  describe(`${s.plugin} compliance, rows beyond the memory buffer`, () => {
    it('waits in spool files during the run and commits every row once written', async () => {
      const opts = s.create(db, PLAIN);
      await checkCompliance(
        s.plugin,
        { ...opts, [`${p}spooldir`]: path.join(dir, 'small'), [`${p}buffer`]: 20, [`${p}batch`]: 10 },
        {
          expect: { sent: 300, dropped: 0 },
          flushOnly: true,
        },
      );
      assert.equal(s.count(db), 300);
      assert.equal(s.count(db, 'WHERE oob_mark = 299'), 1);
    });
  });

  describe(`${s.plugin} compliance, refused rows`, () => {
    it('sets them aside, counts them as dropped and commits them', async () => {
      const opts = s.create(db, s.checkedTable);
      await checkCompliance(
        s.plugin,
        { ...opts, [`${p}spooldir`]: path.join(dir, 'refused') },
        {
          expect: { sent: 270, dropped: 30, rejected: 30, errors: 0 },
          flushOnly: true,
        },
      );
      assert.equal(s.count(db), 270);
    });
  });

  describe(`${s.plugin} compliance, server away`, () => {
    it('spools every row at close and commits it', async () => {
      await checkCompliance(
        s.plugin,
        { ...s.unreachable(db), [`${p}spooldir`]: path.join(dir, 'away') },
        {
          expect: { sent: 0, dropped: 0, spooled: 300 },
          closeOnly: true,
        },
      );
      assert.ok(fs.readdirSync(path.join(dir, 'away')).some((f) => f.endsWith('.rows')));
    });
  });
}
