/**
 * `specter -c FILE nat-lookup` against the kernel: UDP flows over IPv4 and
 * IPv6 from different inside addresses through the same masquerade address
 * and port at chosen moments (and through a DNAT port), logged by source NFCT
 * into ulogd2's own `ulog2_ct` tables (PostgreSQL and MariaDB flat schemas,
 * loaded unchanged) and into the table SQLITE3 makes; each answer checked
 * against what `conntrack -L` showed while the flow was open.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, Daemon, NODE_ARGS, tempDir, writeConfig } from '../../../test/daemon.js';
import { waitFor } from '../../../test/netns.js';
import { ulogd2Schema } from '../../../test/ulogd2-schemas.js';
import { NatLab } from '../../source/NFCT/nat-lab.js';

const PG_SOCKET = '/var/run/postgresql';
const MYSQL_SOCKET = '/run/mysqld/mysqld.sock';
const psql = (db: string, sql: string, file = false) =>
  execFileSync('psql', ['-h', PG_SOCKET, '-U', 'postgres', '-d', db, '-qAt', '-v', 'ON_ERROR_STOP=1', ...(file ? ['-f', '-'] : ['-c', sql])], {
    encoding: 'utf8',
    input: file ? sql : undefined,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
const mysql = (db: string, sql: string, file = false) =>
  execFileSync('mariadb', ['-uroot', `--socket=${MYSQL_SOCKET}`, '-N', '-B', db, ...(file ? [] : ['-e', sql])], {
    encoding: 'utf8',
    input: file ? sql : undefined,
    stdio: ['pipe', 'pipe', 'pipe'],
  });

/** A flow the client made: its inside address and port, the public port conntrack gave it, and a moment it was open. */
interface Made {
  inside: string;
  sport: number;
  family: 4 | 6;
  publicAddr: string;
  publicPort: number;
  at: number;
  payload: number;
}

interface Answer {
  code: number | null;
  stdout: string;
  stderr: string;
}
interface JsonCandidate {
  match: string;
  inside: { addr: string; port: number };
  public: { addr: string; port: number };
  remote: { addr: string; port: number };
  protocol: string;
  start: string;
  end: string | null;
  distance: number;
  orig: { packets: number | null; bytes: number | null };
}

describe('nat-lookup: NATed flows at chosen moments, looked up in PostgreSQL, MariaDB and SQLite', { timeout: 180_000 }, () => {
  let lab: NatLab;
  let dir: string;
  let daemon: Daemon | undefined;
  const db = `specter_nl${process.pid}_${Date.now() % 100000}`;
  const made: Made[] = [];
  const outputs = {
    PGSQL: () => ` plugin PGSQL\n pgsqlhost ${PG_SOCKET}\n pgsqldb ${db}\n pgsqluser postgres\n pgsqltable ulog2_ct\n pgsqlspooldir ${dir}/spool-pg\n`,
    MYSQL: () => ` plugin MYSQL\n mysqlsocket ${MYSQL_SOCKET}\n mysqldb ${db}\n mysqluser root\n mysqltable ulog2_ct\n mysqlspooldir ${dir}/spool-my\n`,
    SQLITE3: () => ` plugin SQLITE3\n sqlite3db ${dir}/flows.db\n sqlite3table flows\n`,
  };
  type Db = keyof typeof outputs;
  const config = (only: Db[]) => `global {\n logfile stderr\n loglevel 3\n}\n10 {\n source NFCT\n${only.map((o) => outputs[o]()).join('')}}\n`;
  const lookup = (only: Db, ...args: string[]): Answer => {
    const r = spawnSync(process.execPath, [...NODE_ARGS, CLI, '-c', path.join(dir, `${only}.conf`), 'nat-lookup', ...args], { encoding: 'utf8' });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const json = (a: Answer): JsonCandidate[] => {
    assert.equal(a.code, 0, a.stderr);
    return JSON.parse(a.stdout) as JsonCandidate[];
  };
  const flow = (inside: string, sport: number) => made.find((m) => m.inside === inside && m.sport === sport)!;
  const endpoint = (addr: string, port: number) => (addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`);

  /** Sends one UDP datagram from inside:sport to the DNAT address and waits for the echo. */
  const send = (inside: string, sport: number, payload: number) => {
    const v6 = inside.includes(':');
    lab.client.exec('python3', [
      '-c',
      `import socket
s = socket.socket(socket.AF_INET${v6 ? '6' : ''}, socket.SOCK_DGRAM)
s.settimeout(2)
s.bind(('${inside}', ${sport}))
s.sendto(b'n' * ${payload}, ('${v6 ? 'fd10::1' : '10.10.0.1'}', 8000))
s.recv(100)
`,
    ]);
  };

  /** Opens the flows of one moment, reads their NAT from conntrack -L while open, then ends them with conntrack -D. */
  const moment = (flows: [string, number][]) => {
    const payload = 10 + made.length;
    for (const [inside, sport] of flows) send(inside, sport, payload);
    const at = Date.now() / 1000;
    const table = lab.table();
    for (const [inside, sport] of flows) {
      const e =
        table.find((t) => t.orig.src === inside && t.orig.sport === String(sport) && t.proto === 'udp') ??
        assert.fail(`${inside}:${sport} not in conntrack -L`);
      made.push({ inside, sport, family: inside.includes(':') ? 6 : 4, publicAddr: e.reply.dst, publicPort: Number(e.reply.dport), at, payload });
    }
    for (const [inside, sport] of flows) {
      lab.router.exec('conntrack', ['-D', '-f', inside.includes(':') ? 'ipv6' : 'ipv4', '-p', 'udp', '-s', inside, '--sport', String(sport)]);
    }
  };

  before(async () => {
    dir = tempDir();
    lab = new NatLab();
    // Flows end when the test deletes them, not by the lab's 2 s UDP timeout on a busy machine.
    lab.router.exec('sysctl', ['-qw', 'net.netfilter.nf_conntrack_udp_timeout=60']);
    lab.client.exec('ip', ['addr', 'add', '10.10.0.3/24', 'dev', 'c0']);
    lab.client.exec('ip', ['addr', 'add', 'fd10::3/64', 'dev', 'c0', 'nodad']);
    await lab.startServer();
    psql('postgres', `CREATE DATABASE ${db}`);
    psql(db, ulogd2Schema('pgsql-ulogd2-flat.sql'), true);
    mysql('', `CREATE DATABASE ${db}`);
    mysql(db, ulogd2Schema('mysql-ulogd2-flat.sql'), true);
    for (const o of Object.keys(outputs) as Db[]) writeConfig(dir, config([o]), `${o}.conf`);
    daemon = new Daemon(lab.router, writeConfig(dir, config(['PGSQL', 'MYSQL', 'SQLITE3'])));
    await daemon.started();
    // The same inside port from two inside hosts, 5 s apart: masquerade gives both the same public port.
    moment([
      ['10.10.0.2', 40000],
      ['fd10::2', 40000],
    ]);
    await new Promise((r) => setTimeout(r, 5000));
    moment([
      ['10.10.0.3', 40000],
      ['10.10.0.3', 40001],
      ['fd10::3', 40000],
    ]);
    const count = {
      PGSQL: () => Number(psql(db, 'SELECT count(*) FROM ulog2_ct').trim()),
      MYSQL: () => Number(mysql(db, 'SELECT count(*) FROM ulog2_ct').trim()),
      SQLITE3: () => Number(execFileSync('sqlite3', [path.join(dir, 'flows.db'), 'SELECT count(*) FROM flows'], { encoding: 'utf8' }).trim()),
    };
    try {
      await waitFor(() => Object.values(count).every((c) => c() >= made.length), 20_000, `${made.length} rows in every database`);
    } catch (err) {
      throw new Error(`${(err as Error).message}: daemon ${daemon.stderr.slice(-1500)}`);
    }
  });

  after(async () => {
    if (daemon) await daemon.stop();
    lab?.close();
    try {
      psql('postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    } catch {
      /* gone */
    }
    try {
      mysql('', `DROP DATABASE IF EXISTS ${db}`);
    } catch {
      /* gone */
    }
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('made the flows it meant to: two inside hosts on one public address and port, 5 s apart', () => {
    const [a, b] = [flow('10.10.0.2', 40000), flow('10.10.0.3', 40000)];
    assert.deepEqual([a.publicAddr, b.publicAddr], ['10.20.0.1', '10.20.0.1']);
    assert.equal(a.publicPort, b.publicPort);
    assert.notEqual(flow('10.10.0.3', 40001).publicPort, b.publicPort);
    assert.equal(flow('fd10::2', 40000).publicPort, flow('fd10::3', 40000).publicPort);
  });

  for (const only of Object.keys(outputs) as Db[]) {
    it(`${only}: names the inside address and port that used the public address and port at each moment`, () => {
      for (const [inside, sport] of [
        ['10.10.0.2', 40000],
        ['10.10.0.3', 40000],
        ['10.10.0.3', 40001],
        ['fd10::2', 40000],
        ['fd10::3', 40000],
      ] as const) {
        const m = flow(inside, sport);
        const [c, ...more] = json(lookup(only, endpoint(m.publicAddr, m.publicPort), '--at', String(m.at), '--window', '1s', '--format', 'json'));
        assert.equal(more.length, 0, `${inside}:${sport}: one candidate, got ${JSON.stringify(more)}`);
        assert.deepEqual(
          [c.match, c.inside, c.public, c.remote, c.protocol],
          [
            'SNAT',
            { addr: inside, port: sport },
            { addr: m.publicAddr, port: m.publicPort },
            { addr: m.family === 4 ? '10.20.0.2' : 'fd20::2', port: 9000 },
            'udp',
          ],
        );
        assert.ok(Date.parse(c.start) / 1000 <= m.at && Date.parse(c.end!) / 1000 >= m.at, `${c.start} .. ${c.end} holds ${m.at}`);
        assert.equal(c.distance, 0);
        // ulogd2's MySQL flat table keeps counters in orig_packets/orig_bytes, which no NFCT key fills.
        if (only !== 'MYSQL') assert.deepEqual(c.orig, { packets: 1, bytes: (m.family === 4 ? 28 : 48) + m.payload });
      }
    });

    it(`${only}: lists every candidate of a wider window, nearest first, and DNAT with the inside server`, () => {
      const [a, b] = [flow('10.10.0.2', 40000), flow('10.10.0.3', 40000)];
      const both = json(lookup(only, endpoint(b.publicAddr, b.publicPort), '--at', String(b.at - 1), '--window', '30s', '--format', 'json'));
      assert.deepEqual(
        both.map((c) => c.inside.addr),
        ['10.10.0.3', '10.10.0.2'],
      );
      assert.ok(both[0].distance < both[1].distance);
      // DNAT: the outside asked for 10.10.0.1:8000; the inside server answered.
      const dnat = json(lookup(only, '10.10.0.1:8000', '--at', new Date(a.at * 1000).toISOString(), '--window', '1s', '--format', 'json'));
      assert.deepEqual(
        dnat.map((c) => [c.match, c.inside, c.remote]),
        [['DNAT', { addr: '10.20.0.2', port: 9000 }, { addr: '10.10.0.2', port: 40000 }]],
      );
    });

    it(`${only}: the address alone gives every port at that moment, as CSV in local time`, () => {
      const b = flow('10.10.0.3', 40000);
      const d = new Date(b.at * 1000);
      const two = (n: number) => String(n).padStart(2, '0');
      const local = `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
      const a = lookup(only, b.publicAddr, '--at', local, '--window', '2s', '--format', 'csv');
      assert.equal(a.code, 0, a.stderr);
      const [head, ...rows] = a.stdout
        .trimEnd()
        .split('\r\n')
        .map((l) => l.split(','));
      const col = (r: string[], name: string) => r[head.indexOf(name)];
      assert.deepEqual(rows.map((r) => `${col(r, 'match')} ${col(r, 'inside_addr')}:${col(r, 'inside_port')}`).sort(), [
        'SNAT 10.10.0.3:40000',
        'SNAT 10.10.0.3:40001',
      ]);
    });

    it(`${only}: a table for people; nothing found is exit 1 and one line; a usage error is exit 2 and one line`, () => {
      const a = flow('10.10.0.2', 40000);
      const table = lookup(only, endpoint(a.publicAddr, a.publicPort), '--at', String(Math.round(a.at)), '--window', '2s');
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /^MATCH +INSIDE +PUBLIC/);
      assert.match(table.stdout, new RegExp(`\\nSNAT +10\\.10\\.0\\.2:40000 +10\\.20\\.0\\.1:${a.publicPort} +10\\.20\\.0\\.2:9000 +udp `));
      const none = lookup(only, endpoint(a.publicAddr, a.publicPort), '--at', String(Math.round(a.at) + 3600));
      assert.deepEqual([none.code, none.stdout, none.stderr.split('\n').length], [1, '', 2]);
      assert.match(none.stderr, /^no flow of .*ulog2_ct|^no flow of .*flows/);
      const bad = lookup(only, endpoint(a.publicAddr, a.publicPort));
      assert.deepEqual([bad.code, bad.stdout, bad.stderr.split('\n').length], [2, '', 2]);
      assert.match(bad.stderr, /^specter nat-lookup: --at TIME is missing/);
    });
  }
});
