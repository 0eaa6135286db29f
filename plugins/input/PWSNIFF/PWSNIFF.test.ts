import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inputHarness, ipv4Tcp, ipv6Tcp } from '../../../test/input-harness.js';
import PWSNIFF from './index.js';

describe('PWSNIFF', () => {
  const run = (payload: string, dport: number, want?: string[], v6 = false) => {
    const h = inputHarness(PWSNIFF, want);
    return h.run(v6 ? ipv6Tcp(dport, Buffer.from(payload)) : ipv4Tcp(dport, Buffer.from(payload)));
  };

  it('finds FTP USER and PASS', () => {
    assert.deepEqual(run('USER alice\r\n', 21), { 'pwsniff.user': 'alice' });
    assert.deepEqual(run('PASS s3cret word\r\n', 21), { 'pwsniff.pass': 's3cret word' });
  });

  it('finds POP3 logins over IPv6, case-insensitive', () => {
    assert.deepEqual(run('user bob\r\n', 110, undefined, true), { 'pwsniff.user': 'bob' });
  });

  it('finds IMAP LOGIN with quoted strings', () => {
    assert.deepEqual(run('a001 LOGIN "carol x" "p\\"w"\r\n', 143), { 'pwsniff.user': 'carol x', 'pwsniff.pass': 'p"w' });
    assert.deepEqual(run('a2 login dave pw\r\n', 143), { 'pwsniff.user': 'dave', 'pwsniff.pass': 'pw' });
  });

  it('leaves other packets untouched', () => {
    assert.deepEqual(run('USER alice\r\n', 80), {});
    assert.deepEqual(run('HELO there\r\n', 21), {});
    assert.deepEqual(run('', 21), {});
  });

  it('sets only the keys some output reads', () => {
    assert.deepEqual(run('a1 LOGIN u p\r\n', 143, ['pwsniff.user']), { 'pwsniff.user': 'u' });
  });

  it('survives truncated and garbage packets', () => {
    const h = inputHarness(PWSNIFF);
    const full = ipv4Tcp(21, Buffer.from('USER alice\r\n'));
    for (let n = 0; n < full.length; n += 7) assert.doesNotThrow(() => h.run(full.subarray(0, n)));
    assert.deepEqual(h.run(Buffer.alloc(60, 0xff)), {});
  });
});
