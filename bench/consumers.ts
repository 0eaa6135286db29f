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
  /** Which daemon: the capacity table pairs specter's and ulogd2's rows of one output. */
  daemon: 'specter' | 'ulogd2' | 'tcpdump';
  /** The output's kind (PCAP, LOGEMU, ...). */
  output: string;
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
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return p.records;
  }
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

export const lines = (file: string) =>
  countNew(file, (b, at) => {
    let n = 0;
    for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) n++;
    return { records: n, next: at + b.length };
  });

/** Records of a pcap file (after its 24-byte header); a record cut off at the end waits for the next call. */
export const pcapRecords = (file: string) =>
  countNew(
    file,
    (b, at) => {
      let n = 0;
      let o = 0;
      while (o + 16 <= b.length && o + 16 + b.readUInt32LE(o + 8) <= b.length) {
        o += 16 + b.readUInt32LE(o + 8);
        n++;
      }
      return { records: n, next: at + o };
    },
    24,
  );

/**
 * The receive buffer each consumer gets. `effective` is what the kernel ends up
 * with (SO_RCVBUF as reported, which is twice what setsockopt asks for); null
 * leaves every consumer at its own default.
 */
export interface Buffers {
  effective: number | null;
}

/** specter's `rmem` is the effective size: it asks the kernel for half of it. */
const specterGlobal = (b: Buffers) => `global {\n logfile stderr\n loglevel 3\n${b.effective ? ` rmem ${b.effective}\n` : ''}}\n`;

function specter(output: string, opts: string, nodeArgs: string[], b: Buffers): Consumer {
  return {
    name: `specter ${output}`,
    daemon: 'specter',
    output,
    command(dir, group) {
      const conf = path.join(dir, 'specter.conf');
      fs.writeFileSync(conf, `${specterGlobal(b)}${group} {\n plugin BASE\n plugin ${output}\n${opts.replace(/DIR/g, dir)}\n}\n`);
      if (output === 'SQLITE3')
        new Database(path.join(dir, 'out.db'))
          .exec(
            'CREATE TABLE ulog (id INTEGER PRIMARY KEY, oob_time_sec INTEGER, oob_prefix TEXT, ip_saddr_str TEXT, ip_daddr_str TEXT, ip_protocol INTEGER, udp_sport INTEGER, udp_dport INTEGER, raw_pktlen INTEGER)',
          )
          .close();
      return [process.execPath, ...nodeArgs, CLI, '-c', conf];
    },
    ready: 'specter started',
    written(dir) {
      if (output === 'PCAP') return pcapRecords(path.join(dir, 'out.pcap'));
      if (output === 'SQLITE3') {
        const db = new Database(path.join(dir, 'out.db'), { readonly: true });
        try {
          return (db.prepare('SELECT count(*) n FROM ulog').get() as { n: number }).n;
        } finally {
          db.close();
        }
      }
      return lines(path.join(dir, 'out.txt'));
    },
  };
}

const TABLE =
  'CREATE TABLE ulog (id bigint PRIMARY KEY AUTO, oob_time_sec bigint, oob_prefix varchar(64), ip_saddr_str varchar(45), ip_daddr_str varchar(45), ip_protocol smallint, udp_sport integer, udp_dport integer, raw_pktlen integer)';

const psql = (db: string, sql: string) =>
  execFileSync('psql', ['-h', '/var/run/postgresql', '-U', 'postgres', '-d', db, '-Atc', sql], { encoding: 'utf8' }).trim();
const maria = (db: string, sql: string) => execFileSync('mariadb', ['-uroot', '-N', '-B', ...(db ? [db] : []), '-e', sql], { encoding: 'utf8' }).trim();

/** specter into PostgreSQL or MariaDB (Unix sockets: the namespace cannot reach the host's 127.0.0.1). */
function specterSql(kind: 'PGSQL' | 'MYSQL', nodeArgs: string[], b: Buffers): Consumer {
  const db = 'specter_bench';
  const run = kind === 'PGSQL' ? psql : maria;
  return {
    name: `specter ${kind}`,
    daemon: 'specter',
    output: kind,
    command(dir, group) {
      if (kind === 'PGSQL') {
        psql('postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
        psql('postgres', `CREATE DATABASE ${db}`);
        psql(db, TABLE.replace('bigint PRIMARY KEY AUTO', 'bigserial PRIMARY KEY'));
      } else {
        maria('', `DROP DATABASE IF EXISTS ${db}; CREATE DATABASE ${db}`);
        maria(db, TABLE.replace('AUTO', 'AUTO_INCREMENT'));
      }
      const opts =
        kind === 'PGSQL'
          ? ` pgsqlhost /var/run/postgresql\n pgsqluser postgres\n pgsqldb ${db}\n pgsqlspooldir ${dir}/spool`
          : ` mysqlsocket /run/mysqld/mysqld.sock\n mysqluser root\n mysqldb ${db}\n mysqlspooldir ${dir}/spool`;
      const conf = path.join(dir, 'specter.conf');
      fs.writeFileSync(conf, `${specterGlobal(b)}${group} {\n plugin BASE\n plugin ${kind}\n${opts}\n}\n`);
      return [process.execPath, ...nodeArgs, CLI, '-c', conf];
    },
    ready: 'specter started',
    written: () => Number(run(db, 'SELECT count(*) FROM ulog')),
  };
}

export const ULOGD_LIB = '/usr/lib/x86_64-linux-gnu/ulogd';

/**
 * ulogd2 passes netlink_socket_buffer_size to SO_RCVBUFFORCE as it is, so the
 * kernel doubles it: half the effective size. On ENOBUFS it would double the
 * buffer while the result stays under netlink_socket_buffer_maxsize; a maximum
 * just above the size keeps the buffer where it was set.
 */
export function ulogdBuffer(b: Buffers): string {
  if (!b.effective) return '';
  const size = Math.floor(b.effective / 2);
  return `netlink_socket_buffer_size=${size}\nnetlink_socket_buffer_maxsize=${size + 1}\n`;
}

function ulogd(name: string, stack: string, sections: string, count: (dir: string) => number, b: Buffers): Consumer {
  return {
    name: `ulogd2 ${name}`,
    daemon: 'ulogd2',
    output: name,
    command(dir, group) {
      const plugins = fs
        .readdirSync(ULOGD_LIB)
        .filter((f) => f.endsWith('.so'))
        .map((f) => `plugin="${ULOGD_LIB}/${f}"`)
        .join('\n');
      const conf = path.join(dir, 'ulogd.conf');
      fs.writeFileSync(
        conf,
        `[global]\nlogfile="${dir}/ulogd.log"\nloglevel=5\n${plugins}\nstack=${stack}\n[log1]\ngroup=${group}\n${ulogdBuffer(b)}${sections.replace(/DIR/g, dir)}\n`,
      );
      return ['/usr/sbin/ulogd', '-c', conf];
    },
    ready: 1500,
    written: count,
  };
}

/** `nodeArgs` go to each specter's Node (e.g. --cpu-prof). */
export function consumers(b: Buffers, nodeArgs: string[] = []): Consumer[] {
  const list: Consumer[] = [
    specter('PCAP', ' pcapfile DIR/out.pcap', nodeArgs, b),
    specter('LOGEMU', ' logemufile DIR/out.txt', nodeArgs, b),
    specter('JSON', ' jsonfile DIR/out.txt', nodeArgs, b),
    specter('SQLITE3', ' sqlite3db DIR/out.db', nodeArgs, b),
    specterSql('PGSQL', nodeArgs, b),
    specterSql('MYSQL', nodeArgs, b),
  ];
  if (fs.existsSync('/usr/sbin/ulogd') && fs.existsSync(ULOGD_LIB)) {
    const have = (p: string) => fs.existsSync(path.join(ULOGD_LIB, p));
    if (have('ulogd_output_PCAP.so'))
      list.push(ulogd('PCAP', 'log1:NFLOG,base1:BASE,pcap1:PCAP', '[pcap1]\nfile="DIR/out.pcap"\nsync=0', (d) => pcapRecords(path.join(d, 'out.pcap')), b));
    list.push(
      ulogd(
        'LOGEMU',
        'log1:NFLOG,base1:BASE,ifi1:IFINDEX,ip2str1:IP2STR,print1:PRINTPKT,emu1:LOGEMU',
        '[emu1]\nfile="DIR/out.txt"\nsync=0',
        (d) => lines(path.join(d, 'out.txt')),
        b,
      ),
    );
    if (have('ulogd_output_JSON.so'))
      list.push(
        ulogd(
          'JSON',
          'log1:NFLOG,base1:BASE,ifi1:IFINDEX,ip2str1:IP2STR,json1:JSON',
          '[json1]\nfile="DIR/out.txt"\nsync=0',
          (d) => lines(path.join(d, 'out.txt')),
          b,
        ),
      );
  }
  // libpcap asks SO_RCVBUF for -B KiB (capped by net.core.rmem_max), which the kernel doubles.
  const tcpdumpBuffer = b.effective ? ['-B', String(Math.floor(b.effective / 2 / 1024))] : [];
  list.push({
    name: 'tcpdump -i nflog -w',
    daemon: 'tcpdump',
    output: 'PCAP',
    command: (dir, group) => ['tcpdump', '-q', ...tcpdumpBuffer, '-i', `nflog:${group}`, '-w', path.join(dir, 'out.pcap')],
    ready: 'listening on',
    written: (dir) => pcapRecords(path.join(dir, 'out.pcap')),
  });
  return list;
}
