/**
 * Port knocking end to end (doc/port-knocking.md): TCP port 2222 is closed to
 * everyone not in the nft set `allowed`; a SYN to the knock port 7777 is
 * logged to group 9, whose EXEC adds the knocker's address to the set.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Daemon, tempDir, writeConfig } from '../../../test/daemon.js';
import { NetNs, waitFor } from '../../../test/netns.js';

const RULES = `
table inet knock {
  set allowed {
    type ipv4_addr
    flags timeout
    timeout 5m
  }
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport 7777 tcp flags syn log group 9 prefix "knock: " drop
    tcp dport 2222 ip saddr @allowed accept
    tcp dport 2222 reject with tcp reset
  }
}`;

describe('port knocking with EXEC', { timeout: 60000 }, () => {
  let ns: NetNs;
  let dir: string;
  let daemon: Daemon;

  before(async () => {
    dir = tempDir();
    ns = new NetNs('spt-knock');
    ns.nft(RULES);
    const conf = writeConfig(
      dir,
      `global {
  logfile stderr
  loglevel 3
}
9 {
  plugin BASE
  plugin EXEC
  execstr "nft add element inet knock allowed { %S }"
}
`,
    );
    daemon = new Daemon(ns, conf);
    await daemon.started();
  });
  after(async () => {
    await daemon?.stop();
    ns.delete();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const connects = (from: string): boolean => {
    try {
      ns.exec('ncat', ['-z', '-w', '2', '-s', from, '127.0.0.1', '2222']);
      return true;
    } catch {
      return false;
    }
  };

  it('opens the port for the knocker only', async () => {
    const server = ns.spawn('ncat', ['-l', '-k', '127.0.0.1', '2222']);
    try {
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(connects('127.0.0.2'), false, 'closed before the knock');
      try {
        ns.exec('ncat', ['-z', '-w', '1', '-s', '127.0.0.2', '127.0.0.1', '7777']);
      } catch {
        /* the knock is dropped */
      }
      await waitFor(() => ns.exec('nft', ['list', 'set', 'inet', 'knock', 'allowed']).includes('127.0.0.2'), 5000, 'the knocker in the set');
      assert.equal(connects('127.0.0.2'), true, 'open for the knocker');
      assert.equal(connects('127.0.0.3'), false, 'still closed for everyone else');
    } finally {
      server.kill();
    }
  });
});
