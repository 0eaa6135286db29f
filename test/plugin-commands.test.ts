/**
 * `specter -c FILE COMMAND ...`: the command line finds the output that offers
 * the command (here SQLITE3's nat-lookup) in a group of the right source, hands
 * it the options the file gives that output (block or YAML instance options),
 * and says in one line, exit code 2, when it cannot.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { splitCommand } from '../src/plugin-commands.js';
import { CLI, NODE_ARGS, tempDir, writeConfig } from './daemon.js';

describe('plugin commands on the command line', () => {
  let dir: string;
  const run = (...args: string[]) => {
    const r = spawnSync(process.execPath, [...NODE_ARGS, CLI, ...args], { encoding: 'utf8' });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  before(() => {
    dir = tempDir();
    // Two flow tables, each with one SNAT flow of 203.0.113.50:32768: which one answers tells which output ran.
    for (const [file, inside] of [
      ['a.db', '10.0.0.1'],
      ['b.db', '10.0.0.2'],
    ]) {
      const db = new Database(path.join(dir, file));
      db.exec(`CREATE TABLE ct (orig_ip_saddr_str TEXT, orig_ip_daddr_str TEXT, reply_ip_saddr_str TEXT, reply_ip_daddr_str TEXT,
        orig_l4_sport INTEGER, orig_l4_dport INTEGER, reply_l4_sport INTEGER, reply_l4_dport INTEGER, flow_start_sec INTEGER, flow_end_sec INTEGER)`);
      db.prepare("INSERT INTO ct VALUES (?, '198.51.100.7', '198.51.100.7', '203.0.113.50', 40000, 443, 443, 32768, 1700000000, 1700000030)").run(inside);
      db.close();
    }
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('splits the arguments at the first word that is not an option or its value', () => {
    assert.deepEqual(splitCommand(['-c', 'f.conf', 'nat-lookup', '10.0.0.1', '--at', '1']), {
      options: ['-c', 'f.conf'],
      command: 'nat-lookup',
      args: ['10.0.0.1', '--at', '1'],
    });
    assert.deepEqual(splitCommand(['--configfile=f.conf', '-u', 'nat-lookup', 'x']), {
      options: ['--configfile=f.conf', '-u', 'nat-lookup'],
      command: 'x',
      args: [],
    });
    assert.deepEqual(splitCommand(['-c', 'f.conf', '--check']), { options: ['-c', 'f.conf', '--check'], args: [] });
  });

  it("runs the command of the first output in a group of its source, with that output's options", () => {
    const conf = writeConfig(
      dir,
      `1 {\n plugin BASE\n plugin SQLITE3\n sqlite3db ${dir}/a.db\n sqlite3table ct\n}\n` +
        `2 {\n source NFCT\n plugin SQLITE3\n sqlite3db ${dir}/b.db\n sqlite3table ct\n}\n`,
    );
    const r = run('-c', conf, 'nat-lookup', '203.0.113.50:32768', '--at', '1700000010', '--format', 'csv');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\nSNAT,10\.0\.0\.2,40000,203\.0\.113\.50,32768,/, 'group 2, the NFCT group, answered');
  });

  it('takes the options of a YAML instance', () => {
    const conf = writeConfig(dir, `groups:\n  3:\n    source: NFCT\n    plugins:\n      - SQLITE3: { sqlite3db: ${dir}/a.db, sqlite3table: ct }\n`, 'c.yaml');
    const r = run('-c', conf, 'nat-lookup', '203.0.113.50:32768', '--at', '1700000010', '--format', 'json');
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { inside: { addr: string } }[])[0].inside.addr, '10.0.0.1');
  });

  it('says in one line, exit code 2, why a command cannot run', () => {
    const nflog = writeConfig(dir, `1 {\n plugin BASE\n plugin SQLITE3\n sqlite3db ${dir}/a.db\n}\n`, 'nflog.conf');
    const cases: [string[], RegExp][] = [
      [
        ['-c', nflog, 'nat-lookup', '10.0.0.1', '--at', '1'],
        /^specter nat-lookup: no output of .*nflog\.conf answers it: SQLITE3 of group 1 does only in a group with "source NFCT"\n$/,
      ],
      [['-c', nflog, 'nat-lokup', '10.0.0.1'], /^specter nat-lokup: unknown command: no output of .*nflog\.conf offers it\n$/],
      [['-c', path.join(dir, 'none.conf'), 'nat-lookup', '10.0.0.1'], /^cannot read configuration .*none\.conf: no such file\n$/],
      [
        [
          '-c',
          writeConfig(dir, '1 {\n source NFCT\n plugin SQLITE3\n sqlite3db x.db\n sqlite3create maybe\n}\n', 'bad.conf'),
          'nat-lookup',
          '10.0.0.1',
          '--at',
          '1',
        ],
        /^.*bad\.conf:5:16: SQLITE3 option "sqlite3create": expected a boolean/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = run(...args);
      assert.deepEqual([r.code, r.stdout], [2, ''], args.join(' '));
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    }
  });
});
