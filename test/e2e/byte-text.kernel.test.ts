/**
 * Text from packets and rules through every kind of output: nft log prefixes
 * and FTP logins in several scripts and with bytes that are not UTF-8. LOGEMU
 * writes the bytes the kernel writes in its own line; JSON, OPRINT and the
 * three SQL outputs hold the UTF-8 text unchanged and each other byte as \xNN.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { after, before, describe, it } from 'node:test';
import { Daemon, tempDir, writeConfig } from '../daemon.js';
import { NetNs, waitFor } from '../netns.js';

const SYSCTL = '/proc/sys/net/netfilter/nf_log_all_netns';
const tag = `U${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const hex = (h: string) => Buffer.from(h.replace(/ /g, ''), 'hex');

// Each prefix: its bytes after the tag, and how text outputs show them.
const PREFIXES: Array<{ bytes: Buffer; text: string }> = [
  { bytes: Buffer.from('été: '), text: 'été: ' },
  { bytes: Buffer.from('Привет мир: '), text: 'Привет мир: ' },
  { bytes: Buffer.from('日本語のログ: '), text: '日本語のログ: ' },
  { bytes: Buffer.from('🔥 fire 🔥: '), text: '🔥 fire 🔥: ' },
  { bytes: Buffer.concat([Buffer.from('bad '), hex('ff fe 20 c3 28 20 e6 97'), Buffer.from(': ')]), text: 'bad \\xff\\xfe \\xc3( \\xe6\\x97: ' },
  { bytes: Buffer.concat([Buffer.from('latin1 '), hex('e9 74 e9'), Buffer.from(': ')]), text: 'latin1 \\xe9t\\xe9: ' },
];
// The longest prefix nft takes: 127 bytes, tag included, mostly two-byte characters.
const room = 127 - Buffer.byteLength(`${tag}${PREFIXES.length} : `);
const longest = 'ü'.repeat(room >> 1) + (room & 1 ? 'x' : '') + ': ';
PREFIXES.push({ bytes: Buffer.from(longest), text: longest });

// FTP user names (USER) and passwords (PASS): bytes sent, text shown.
const LOGINS: Array<{ bytes: Buffer; text: string }> = [
  { bytes: Buffer.from('été'), text: 'été' },
  { bytes: Buffer.from('Дмитрий'), text: 'Дмитрий' },
  { bytes: Buffer.from('山田太郎'), text: '山田太郎' },
  { bytes: Buffer.from('🙂user'), text: '🙂user' },
  { bytes: hex('6a e9 72 f4 6d 65'), text: 'j\\xe9r\\xf4me' }, // "jérôme" in Latin-1
  { bytes: hex('ff c3 a9 c0 af'), text: '\\xffé\\xc0\\xaf' },
];

const UDP_BASE = 7600;

function rules(): Buffer {
  const lines = PREFIXES.flatMap((p, i) => {
    const prefix = Buffer.concat([Buffer.from(`${tag}${i} `), p.bytes]);
    assert.ok(prefix.length <= 127, 'nft takes prefixes of up to 127 bytes');
    const match = Buffer.from(`    udp dport ${UDP_BASE + i} `);
    return [match, Buffer.from('log prefix "'), prefix, Buffer.from('"\n'), match, Buffer.from('log group 7 prefix "'), prefix, Buffer.from('"\n')];
  });
  return Buffer.concat([
    Buffer.from('table inet bytetext {\n  chain input {\n    type filter hook input priority 0; policy accept;\n'),
    ...lines,
    Buffer.from('    tcp dport 21 log group 7 prefix "ftp: "\n  }\n}\n'),
  ]);
}

// One datagram per prefix, then one FTP connection per command (PWSNIFF reads a payload's first line).
const SENDER = `
import socket, sys
udp_base, count = int(sys.argv[1]), int(sys.argv[2])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(count):
    u.sendto(b'x', ('127.0.0.1', udp_base + i))
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(('127.0.0.1', 21))
srv.listen(8)
for name in sys.argv[3:]:
    for cmd in (b'USER ', b'PASS '):
        c = socket.create_connection(('127.0.0.1', 21))
        a, _ = srv.accept()
        c.sendall(cmd + bytes.fromhex(name) + b'\\r\\n')
        a.recv(100)
        c.close()
        a.close()
`;

/** The kernel's log records (from /dev/kmsg, which writes bytes other than printable ASCII as \\xNN) holding our tag, as bytes. */
function kernelLines(): Buffer[] {
  const fd = fs.openSync('/dev/kmsg', fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const buf = Buffer.alloc(8192);
  const out: Buffer[] = [];
  try {
    for (;;) {
      let n: number;
      try {
        n = fs.readSync(fd, buf, 0, buf.length, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
        if ((err as NodeJS.ErrnoException).code === 'EPIPE') continue; // records overwritten while reading
        throw err;
      }
      const rec = buf.toString('latin1', 0, n).split('\n')[0];
      const msg = rec.slice(rec.indexOf(';') + 1);
      if (!msg.startsWith(tag)) continue;
      out.push(
        Buffer.from(
          msg.replace(/\\x([0-9a-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))),
          'latin1',
        ),
      );
    }
  } finally {
    fs.closeSync(fd);
  }
  return out;
}

const psql = (db: string, sql: string) =>
  execFileSync('psql', ['-h', '/var/run/postgresql', '-U', 'postgres', '-d', db, '-AtF', '\t', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8' });
const MYSQL_SOCKET = '/run/mysqld/mysqld.sock';
const mariadb = (db: string, sql: string) =>
  execFileSync('mariadb', ['-uroot', `--socket=${MYSQL_SOCKET}`, '--default-character-set=utf8mb4', '-N', '-B', '-r', db, '-e', sql], { encoding: 'utf8' });

describe('text from packets and prefixes', { timeout: 120000 }, () => {
  let ns: NetNs;
  let daemon: Daemon;
  let dir: string;
  let oldSysctl: string;
  const db = `specter_u${process.pid}_${Date.now() % 100000}`;
  const files = { logemu: '', json: '', oprint: '', sqlite: '' };

  before(async () => {
    oldSysctl = fs.readFileSync(SYSCTL, 'utf8').trim();
    fs.writeFileSync(SYSCTL, '1');
    dir = tempDir();
    for (const k of Object.keys(files) as Array<keyof typeof files>) files[k] = path.join(dir, k);
    ns = new NetNs('spt-text');
    execFileSync('ip', ['netns', 'exec', ns.name, 'nft', '-f', '-'], { input: rules() });

    psql('postgres', `CREATE DATABASE ${db} ENCODING 'UTF8' TEMPLATE template0`);
    psql(db, 'CREATE TABLE ulog (id serial PRIMARY KEY, oob_prefix text, pwsniff_user text, pwsniff_pass bytea)');
    mariadb('', `CREATE DATABASE ${db}`);
    // No charset named: the server's default must take every script (utf8mb4), checked below.
    mariadb(db, 'CREATE TABLE ulog (id int AUTO_INCREMENT PRIMARY KEY, oob_prefix varchar(128), pwsniff_user varchar(64), pwsniff_pass varbinary(64))');
    new Database(files.sqlite).exec('CREATE TABLE ulog (id INTEGER PRIMARY KEY, oob_prefix TEXT, pwsniff_user TEXT, pwsniff_pass BLOB)').close();

    daemon = new Daemon(
      ns,
      writeConfig(
        dir,
        `global {
  logfile stderr
  loglevel 3
}
7 {
  plugin BASE
  plugin PWSNIFF
  plugin LOGEMU
  plugin JSON
  plugin OPRINT
  plugin SQLITE3
  plugin PGSQL
  plugin MYSQL
  logemufile ${files.logemu}
  logemusync
  jsonfile ${files.json}
  jsonsync
  jsonfields oob.prefix,pwsniff.user,pwsniff.pass
  dumpfile ${files.oprint}
  sqlite3db ${files.sqlite}
  pgsqlhost /var/run/postgresql
  pgsqldb ${db}
  pgsqluser postgres
  mysqlsocket ${MYSQL_SOCKET}
  mysqldb ${db}
  mysqluser root
}
`,
      ),
    );
    await daemon.started();
    execFileSync('ip', ['netns', 'exec', ns.name, 'python3', '-', String(UDP_BASE), String(PREFIXES.length), ...LOGINS.map((l) => l.bytes.toString('hex'))], {
      input: SENDER,
      stdio: ['pipe', 'ignore', 'inherit'],
    });
  });

  after(async () => {
    await daemon?.stop();
    ns?.delete();
    fs.writeFileSync(SYSCTL, oldSysctl);
    try {
      psql('postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    } catch {
      /* not made */
    }
    try {
      mariadb('', `DROP DATABASE IF EXISTS ${db}`);
    } catch {
      /* not made */
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const prefixOf = (i: number) => ({ bytes: Buffer.concat([Buffer.from(`${tag}${i} `), PREFIXES[i].bytes]), text: `${tag}${i} ${PREFIXES[i].text}` });

  it('LOGEMU writes the bytes of the kernel line, prefix included, UTF-8 or not', async () => {
    const lines = await waitFor(
      () => {
        const all = fs.existsSync(files.logemu) ? splitLines(fs.readFileSync(files.logemu)) : [];
        const ours = all.filter((l) => l.includes(tag));
        return ours.length === PREFIXES.length ? ours : null;
      },
      10000,
      'a LOGEMU line per prefix',
    );
    const kernel = await waitFor(
      () => {
        const k = kernelLines();
        return k.length === PREFIXES.length ? k : null;
      },
      10000,
      'the kernel lines',
    );
    for (let i = 0; i < PREFIXES.length; i++) {
      const { bytes } = prefixOf(i);
      const mine = lines.find((l) => l.includes(bytes))!;
      assert.ok(mine, `prefix ${i}: its bytes unchanged in LOGEMU's line`);
      const theirs = kernel.find((k) => k.subarray(0, bytes.length).equals(bytes))!;
      assert.ok(theirs, `prefix ${i}: the kernel's line`);
      assert.equal(mine.subarray(mine.indexOf(bytes)).toString('hex'), theirs.toString('hex'), `prefix ${i}: byte for byte`);
    }
  });

  it('JSON and OPRINT show UTF-8 as text and other bytes as \\xNN', async () => {
    const rows = await waitFor(
      () => {
        const r = fs.existsSync(files.json)
          ? fs
              .readFileSync(files.json, 'utf8')
              .split('\n')
              .filter(Boolean)
              .map((l) => JSON.parse(l))
          : [];
        return r.filter((x) => x['pwsniff.pass'] !== undefined).length === LOGINS.length ? r : null;
      },
      10000,
      'every login in JSON',
    );
    for (let i = 0; i < PREFIXES.length; i++) {
      const { text } = prefixOf(i);
      assert.equal(rows.filter((r) => r['oob.prefix'] === text).length, 1, `prefix ${i} in JSON`);
    }
    assert.deepEqual(
      rows.filter((r) => r['pwsniff.user'] !== undefined).map((r) => r['pwsniff.user']),
      LOGINS.map((l) => l.text),
    );
    assert.deepEqual(
      rows.filter((r) => r['pwsniff.pass'] !== undefined).map((r) => r['pwsniff.pass']),
      LOGINS.map((l) => l.text),
    );

    const oprint = fs.readFileSync(files.oprint, 'utf8');
    assert.ok(oprint.isWellFormed() && !oprint.includes('\ufffd'), 'OPRINT writes well-formed UTF-8');
    const lines = oprint.split('\n');
    for (let i = 0; i < PREFIXES.length; i++) assert.ok(lines.includes(`oob.prefix=${prefixOf(i).text}`), `prefix ${i} in OPRINT`);
    for (const l of LOGINS) assert.ok(lines.includes(`pwsniff.user=${l.text}`), `user ${l.text} in OPRINT`);
  });

  it('PGSQL, MYSQL and SQLITE3 store the same text, and the bytes themselves in binary columns', async () => {
    const users = LOGINS.map((l) => l.text);
    const passes = LOGINS.map((l) => l.bytes.toString('hex'));
    const prefixes = PREFIXES.map((_, i) => prefixOf(i).text).sort();
    const ours = (rows: string[][]) =>
      rows
        .filter((r) => r[0].startsWith(tag))
        .map((r) => r[0])
        .sort();

    const pg = () =>
      psql(db, "SELECT coalesce(oob_prefix, ''), coalesce(pwsniff_user, ''), coalesce(encode(pwsniff_pass, 'hex'), '') FROM ulog ORDER BY id")
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t'));
    const pgRows = await waitFor(() => (pg().filter((r) => r[2] !== '').length === LOGINS.length ? pg() : null), 15000, 'every login in PostgreSQL');
    assert.deepEqual(ours(pgRows), prefixes, 'PostgreSQL prefixes');
    assert.deepEqual(
      pgRows.filter((r) => r[1] !== '').map((r) => r[1]),
      users,
      'PostgreSQL users',
    );
    assert.deepEqual(
      pgRows.filter((r) => r[2] !== '').map((r) => r[2]),
      passes,
      'PostgreSQL passwords as bytes',
    );

    const charsets = mariadb(
      '',
      `SELECT COLUMN_NAME, CHARACTER_SET_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '${db}' AND TABLE_NAME = 'ulog' AND COLUMN_NAME IN ('oob_prefix', 'pwsniff_user') ORDER BY COLUMN_NAME`,
    );
    assert.equal(charsets, 'oob_prefix\tutf8mb4\npwsniff_user\tutf8mb4\n', 'MariaDB text columns hold utf8mb4');
    const my = () =>
      mariadb(db, "SELECT coalesce(oob_prefix, ''), coalesce(pwsniff_user, ''), coalesce(lower(hex(pwsniff_pass)), '') FROM ulog ORDER BY id")
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t'));
    const myRows = await waitFor(() => (my().filter((r) => r[2] !== '').length === LOGINS.length ? my() : null), 15000, 'every login in MariaDB');
    assert.deepEqual(ours(myRows), prefixes, 'MariaDB prefixes');
    assert.deepEqual(
      myRows.filter((r) => r[1] !== '').map((r) => r[1]),
      users,
      'MariaDB users',
    );
    assert.deepEqual(
      myRows.filter((r) => r[2] !== '').map((r) => r[2]),
      passes,
      'MariaDB passwords as bytes',
    );

    type Row = { oob_prefix: string | null; pwsniff_user: string | null; pwsniff_pass: Buffer | null };
    const lite = () =>
      new Database(files.sqlite, { readonly: true }).prepare('SELECT oob_prefix, pwsniff_user, pwsniff_pass FROM ulog ORDER BY id').all() as Row[];
    const liteRows = await waitFor(() => (lite().filter((r) => r.pwsniff_pass).length === LOGINS.length ? lite() : null), 15000, 'every login in SQLite');
    assert.deepEqual(
      liteRows
        .map((r) => r.oob_prefix ?? '')
        .filter((p) => p.startsWith(tag))
        .sort(),
      prefixes,
      'SQLite prefixes',
    );
    assert.deepEqual(
      liteRows.filter((r) => r.pwsniff_user !== null).map((r) => r.pwsniff_user),
      users,
      'SQLite users',
    );
    assert.deepEqual(
      liteRows.filter((r) => r.pwsniff_pass !== null).map((r) => r.pwsniff_pass!.toString('hex')),
      passes,
      'SQLite passwords as bytes',
    );
  });
});

/** Lines of a file as bytes. */
function splitLines(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let start = 0, nl; (nl = b.indexOf(10, start)) >= 0; start = nl + 1) out.push(b.subarray(start, nl));
  return out;
}
