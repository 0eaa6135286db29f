/**
 * The consumers the benchmark compares: specter with each output, ulogd2 with
 * the equivalent stacks (when installed), and tcpdump's own NFLOG capture.
 * Each knows how to start inside the namespace and how to count what it wrote.
 */
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CLI } from '../test/daemon.js';

export interface Consumer {
  name: string;
  /** Command and arguments to run inside the namespace; files go to `dir`. */
  command(dir: string, group: number): string[];
  /** Text on stderr/stdout that says the consumer is bound, or a fixed delay in ms. */
  ready: string | number;
  /** Records written so far. */
  written(dir: string): number;
}

/**
 * Records in a growing output file, counted from where the last call stopped:
 * the bench polls while the consumer writes, and must not reread hundreds of
 * megabytes each time (it shares the two cores with the consumer).
 */
const progress = new Map<string, { offset: number; records: number }>();

function countNew(file: string, walk: (b: Buffer, at: number) => { records: number; next: number }, start = 0): number {
  const p = progress.get(file) ?? { offset: start, records: 0 };
  progress.set(file, p);
  let fd: number;
  try { fd = fs.openSync(file, 'r'); } catch { return p.records; }
  try {
    const size = fs.fstatSync(fd).size;
    if (size > p.offset) {
      const b = Buffer.allocUnsafe(size - p.offset);
      const got = fs.readSync(fd, b, 0, b.length, p.offset);
      const r = walk(b.subarray(0, got), p.offset);
      p.records += r.records;
      p.offset = r.next;
    }
    return p.records;
  } finally {
    fs.closeSync(fd);
  }
}

const lines = (file: string) => countNew(file, (b, at) => {
  let n = 0;
  for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) n++;
  return { records: n, next: at + b.length };
});

/** Records of a pcap file (after its 24-byte header); a record cut off at the end waits for the next call. */
export const pcapRecords = (file: string) => countNew(file, (b, at) => {
  let n = 0;
  let o = 0;
  while (o + 16 <= b.length && o + 16 + b.readUInt32LE(o + 8) <= b.length) {
    o += 16 + b.readUInt32LE(o + 8);
    n++;
  }
  return { records: n, next: at + o };
}, 24);

function specter(output: string, opts: string, nodeArgs: string[]): Consumer {
  return {
    name: `specter ${output}`,
    command(dir, group) {
      const conf = path.join(dir, 'specter.conf');
      fs.writeFileSync(conf, `global {\n logfile stderr\n loglevel 3\n}\n${group} {\n plugin BASE\n plugin ${output}\n${opts.replace(/DIR/g, dir)}\n}\n`);
      if (output === 'SQLITE3') new Database(path.join(dir, 'out.db')).exec('CREATE TABLE ulog (id INTEGER PRIMARY KEY, oob_time_sec INTEGER, oob_prefix TEXT, ip_saddr_str TEXT, ip_daddr_str TEXT, ip_protocol INTEGER, udp_sport INTEGER, udp_dport INTEGER, raw_pktlen INTEGER)').close();
      return [process.execPath, ...nodeArgs, CLI, '-c', conf];
    },
    ready: 'specter started',
    written(dir) {
      if (output === 'PCAP') return pcapRecords(path.join(dir, 'out.pcap'));
      if (output === 'SQLITE3') {
        const db = new Database(path.join(dir, 'out.db'), { readonly: true });
        try { return (db.prepare('SELECT count(*) n FROM ulog').get() as { n: number }).n; } finally { db.close(); }
      }
      return lines(path.join(dir, 'out.txt'));
    },
  };
}

const TABLE = 'CREATE TABLE ulog (id bigint PRIMARY KEY AUTO, oob_time_sec bigint, oob_prefix varchar(64), ip_saddr_str varchar(45), ip_daddr_str varchar(45), ip_protocol smallint, udp_sport integer, udp_dport integer, raw_pktlen integer)';

const psql = (db: string, sql: string) => execFileSync('psql', ['-h', '/var/run/postgresql', '-U', 'postgres', '-d', db, '-Atc', sql], { encoding: 'utf8' }).trim();
const maria = (db: string, sql: string) => execFileSync('mariadb', ['-uroot', '-N', '-B', ...(db ? [db] : []), '-e', sql], { encoding: 'utf8' }).trim();

/** specter into PostgreSQL or MariaDB (Unix sockets: the namespace cannot reach the host's 127.0.0.1). */
function specterSql(kind: 'PGSQL' | 'MYSQL', nodeArgs: string[]): Consumer {
  const db = 'specter_bench';
  const run = kind === 'PGSQL' ? psql : maria;
  return {
    name: `specter ${kind}`,
    command(dir, group) {
      if (kind === 'PGSQL') {
        psql('postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
        psql('postgres', `CREATE DATABASE ${db}`);
        psql(db, TABLE.replace('bigint PRIMARY KEY AUTO', 'bigserial PRIMARY KEY'));
      } else {
        maria('', `DROP DATABASE IF EXISTS ${db}; CREATE DATABASE ${db}`);
        maria(db, TABLE.replace('AUTO', 'AUTO_INCREMENT'));
      }
      const opts = kind === 'PGSQL'
        ? ` pgsqlhost /var/run/postgresql\n pgsqluser postgres\n pgsqldb ${db}\n pgsqlspooldir ${dir}/spool`
        : ` mysqlsocket /run/mysqld/mysqld.sock\n mysqluser root\n mysqldb ${db}\n mysqlspooldir ${dir}/spool`;
      const conf = path.join(dir, 'specter.conf');
      fs.writeFileSync(conf, `global {\n logfile stderr\n loglevel 3\n}\n${group} {\n plugin BASE\n plugin ${kind}\n${opts}\n}\n`);
      return [process.execPath, ...nodeArgs, CLI, '-c', conf];
    },
    ready: 'specter started',
    written: () => Number(run(db, 'SELECT count(*) FROM ulog')),
  };
}

const ULOGD_LIB = '/usr/lib/x86_64-linux-gnu/ulogd';

function ulogd(name: string, stack: string, sections: string, count: (dir: string) => number): Consumer {
  return {
    name: `ulogd2 ${name}`,
    command(dir, group) {
      const plugins = fs.readdirSync(ULOGD_LIB).filter((f) => f.endsWith('.so')).map((f) => `plugin="${ULOGD_LIB}/${f}"`).join('\n');
      const conf = path.join(dir, 'ulogd.conf');
      fs.writeFileSync(conf, `[global]\nlogfile="${dir}/ulogd.log"\nloglevel=5\n${plugins}\nstack=${stack}\n[log1]\ngroup=${group}\n${sections.replace(/DIR/g, dir)}\n`);
      return ['/usr/sbin/ulogd', '-c', conf];
    },
    ready: 1500,
    written: count,
  };
}

/** `nodeArgs` go to each specter's Node (e.g. --cpu-prof). */
export function consumers(nodeArgs: string[] = []): Consumer[] {
  const list: Consumer[] = [
    specter('PCAP', ' pcapfile DIR/out.pcap', nodeArgs),
    specter('LOGEMU', ' logemufile DIR/out.txt', nodeArgs),
    specter('JSON', ' jsonfile DIR/out.txt', nodeArgs),
    specter('SQLITE3', ' sqlite3db DIR/out.db', nodeArgs),
    specterSql('PGSQL', nodeArgs),
    specterSql('MYSQL', nodeArgs),
  ];
  if (fs.existsSync('/usr/sbin/ulogd') && fs.existsSync(ULOGD_LIB)) {
    const have = (p: string) => fs.existsSync(path.join(ULOGD_LIB, p));
    if (have('ulogd_output_PCAP.so')) list.push(ulogd('PCAP', 'log1:NFLOG,base1:BASE,pcap1:PCAP', '[pcap1]\nfile="DIR/out.pcap"\nsync=0', (d) => pcapRecords(path.join(d, 'out.pcap'))));
    list.push(ulogd('LOGEMU', 'log1:NFLOG,base1:BASE,ifi1:IFINDEX,ip2str1:IP2STR,print1:PRINTPKT,emu1:LOGEMU', '[emu1]\nfile="DIR/out.txt"\nsync=0', (d) => lines(path.join(d, 'out.txt'))));
    if (have('ulogd_output_JSON.so')) list.push(ulogd('JSON', 'log1:NFLOG,base1:BASE,ifi1:IFINDEX,ip2str1:IP2STR,json1:JSON', '[json1]\nfile="DIR/out.txt"\nsync=0', (d) => lines(path.join(d, 'out.txt'))));
  }
  list.push({
    name: 'tcpdump -i nflog -w',
    command: (dir, group) => ['tcpdump', '-q', '-i', `nflog:${group}`, '-w', path.join(dir, 'out.pcap')],
    ready: 'listening on',
    written: (dir) => pcapRecords(path.join(dir, 'out.pcap')),
  });
  return list;
}
