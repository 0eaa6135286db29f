import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { outputHarness } from '../../../test/output-harness.js';
import { tempDir } from '../../../test/daemon.js';
import { parseArg, splitCommand } from './command.js';
import EXEC from './index.js';

const dir = tempDir('specter-exec-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('EXEC command line', () => {
  it('splits into words with quotes, once', () => {
    assert.deepEqual(splitCommand(`/usr/sbin/nft add element inet knock allowed "{ %S }"`), [
      '/usr/sbin/nft',
      'add',
      'element',
      'inet',
      'knock',
      'allowed',
      '{ %S }',
    ]);
    assert.deepEqual(splitCommand(`a 'b c' "d \\"e\\"" f\\ g`), ['a', 'b c', 'd "e"', 'f g']);
    assert.throws(() => splitCommand('a "b'), /unterminated/);
  });

  it('knows its macros and %%', () => {
    assert.deepEqual(parseArg('%S:%d%%'), { parts: ['', ':', '%'], macros: ['S', 'd'] });
    assert.throws(() => parseArg('%X'), /unknown macro %X/);
  });
});

describe('EXEC runs', () => {
  const script = path.join(dir, 'record.sh');
  fs.writeFileSync(script, '#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done >> "$OUT"\nexit "${FAIL:-0}"\n', { mode: 0o755 });

  it('passes packet fields as single arguments: nothing in a packet reaches a shell', async () => {
    const out = path.join(dir, 'args.txt');
    const marker = path.join(dir, 'injected');
    process.env.OUT = out;
    const h = await outputHarness(EXEC, { execstr: `${script} %I %S:%d %P`, execwait: true });
    h.packet({ 'oob.in': `eth0; touch ${marker}`, 'ip.saddr': 0x0a000001, 'tcp.dport': 22, 'ip.protocol': 6 });
    h.packet({ 'oob.in': '$(touch x)`id`', 'ip.saddr': Buffer.from('20010db8000000000000000000000001', 'hex'), 'udp.dport': 53, 'ip.protocol': 17 });
    await h.flush();
    assert.deepEqual(fs.readFileSync(out, 'utf8').split('\n').filter(Boolean), [
      `eth0; touch ${marker}`,
      '10.0.0.1:22',
      '6',
      '$(touch x)`id`',
      '2001:db8::1:53',
      '17',
    ]);
    assert.equal(fs.existsSync(marker), false);
    assert.equal(h.counters.sent, 2);
  });

  it('skips packets whose macros cannot all be filled, unless execforce', async () => {
    const out = path.join(dir, 'skip.txt');
    process.env.OUT = out;
    const h = await outputHarness(EXEC, { execstr: `${script} %s` });
    h.packet({ 'ip.protocol': 1 });
    await h.flush();
    assert.equal(h.counters.extra.skipped, 1);
    assert.equal(h.counters.dropped, 1, 'no command ran for it');
    assert.equal(h.committed(), 1);
    assert.equal(fs.existsSync(out), false);
    const forced = await outputHarness(EXEC, { execstr: `${script} %s`, execforce: true });
    forced.packet({ 'ip.protocol': 1 });
    await forced.flush();
    assert.equal(fs.readFileSync(out, 'utf8'), 'invalid\n');
  });

  it('counts failures and drops beyond the queue', async () => {
    process.env.OUT = path.join(dir, 'fail.txt');
    process.env.FAIL = '3';
    try {
      const h = await outputHarness(EXEC, { execstr: `${script} x`, execqueue: 2, execwait: true });
      for (let i = 0; i < 5; i++) h.packet({});
      await h.flush();
      // The first runs at once; two wait in the queue; the last two do not fit.
      // A failed command is an error, and its record is dropped: what it asked for did not happen.
      assert.equal(h.counters.errors, 3);
      assert.equal(h.counters.dropped, 5);
      assert.equal(h.counters.sent, 0);
      assert.equal(h.committed(), 5);
    } finally {
      delete process.env.FAIL;
    }
  });

  it('refuses a program that does not exist and an unknown macro at start-up', async () => {
    await assert.rejects(
      outputHarness(EXEC, { execstr: 'no-such-program-here %S' }),
      /EXEC option "execstr": "no-such-program-here" is not an executable file/,
    );
    await assert.rejects(outputHarness(EXEC, { execstr: `${script} %Q` }), /unknown macro %Q/);
  });
});
