/**
 * `npm run demo` (as root): a network namespace with nft rules that log to
 * NFLOG group 1, specter running there on the example setup (BASE → LOGEMU
 * and SQLITE3, no server needed), a little IPv4/IPv6 traffic on the namespace's loopback, and
 * the logged lines shown. Everything is removed afterwards.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { Daemon, ROOT, tempDir, writeConfig } from '../test/daemon.js';
import { NetNs, waitFor } from '../test/netns.js';

const RULES = `
table inet demo {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport 8080 log group 1 prefix "demo-tcp: "
    udp dport 5353 log group 1 prefix "demo-udp: "
    icmp type echo-request log group 1 prefix "demo-ping: "
    icmpv6 type echo-request log group 1 prefix "demo-ping6: "
  }
}`;

// The commands the demo runs and the Debian package of each.
const TOOLS: Array<[command: string, pkg: string]> = [
  ['ip', 'iproute2'],
  ['nft', 'nftables'],
  ['ping', 'iputils-ping'],
  ['ncat', 'ncat'],
];

/** One line naming every missing command and how to install it, or null when all are on PATH. */
function missingTools(): string | null {
  const dirs = (process.env.PATH ?? '').split(':').filter(Boolean);
  const onPath = (cmd: string) =>
    dirs.some((d) => {
      try {
        fs.accessSync(path.join(d, cmd), fs.constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
  const missing = TOOLS.filter(([cmd]) => !onPath(cmd));
  if (missing.length === 0) return null;
  return `${missing.map(([cmd]) => cmd).join(', ')} not found: run scripts/setup, or apt-get install -y ${missing.map(([, pkg]) => pkg).join(' ')}`;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the demo needs root (network namespaces and nftables)');
  const missing = missingTools();
  if (missing) throw new Error(missing);
  const dir = tempDir('specter-demo-');
  const logemu = path.join(dir, 'specter.logemu');
  const dbfile = path.join(dir, 'specter.db');
  new Database(dbfile).exec(fs.readFileSync(path.join(ROOT, 'doc', 'sqlite3.table'), 'utf8')).close();
  const conf = writeConfig(
    dir,
    `# specter demo: group 1 decoded by BASE, written as kernel-style log lines and into SQLite
global {
  logfile stderr
  loglevel 3
}

1 {
  plugin BASE
  plugin LOCAL
  plugin LOGEMU
  plugin SQLITE3
  logemufile ${logemu}
  sqlite3db ${dbfile}
}
`,
  );
  const ns = new NetNs('specter-demo');
  let daemon: Daemon | undefined;
  try {
    ns.nft(RULES);
    console.log(`namespace ${ns.name}: nft rules log TCP 8080, UDP 5353 and pings to NFLOG group 1`);
    daemon = new Daemon(ns, conf);
    await daemon.started();
    console.log('specter is running; sending traffic on the namespace loopback ...');
    ns.exec('ping', ['-c', '2', '-i', '0.2', '127.0.0.1']);
    ns.exec('ping', ['-6', '-c', '2', '-i', '0.2', '::1']);
    // Closed ports: the connection attempts are refused, but the rules log them first.
    for (const args of [
      ['-z', '-w', '1', '127.0.0.1', '8080'],
      ['-u', '-w', '1', '127.0.0.1', '5353'],
    ]) {
      try {
        ns.exec('ncat', args, 'hello\n');
      } catch {
        /* refused */
      }
    }
    const lines = await waitFor(
      () => {
        const text = fs.existsSync(logemu) ? fs.readFileSync(logemu, 'utf8') : '';
        const l = text.split('\n').filter(Boolean);
        return l.length >= 6 ? l : null;
      },
      10000,
      'the logged lines',
    );
    console.log(`\n${logemu}:`);
    for (const l of lines) console.log(`  ${l}`);
    const code = await daemon.stop();
    daemon = undefined;
    const db = new Database(dbfile, { readonly: true });
    const rows = db.prepare('SELECT oob_prefix, ip_saddr_str, ip_protocol, tcp_dport, udp_dport, icmp_type, icmpv6_type FROM ulog ORDER BY id').all();
    db.close();
    console.log(`\n${dbfile} (table ulog, ${rows.length} rows):`);
    console.table(rows);
    console.log(`specter stopped (exit ${code}); ${lines.length} packets logged.`);
  } finally {
    if (daemon) await daemon.stop();
    ns.delete();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`demo failed: ${(err as Error).message}`);
  process.exit(1);
});
