/**
 * An IPv4 header length below 5 words is malformed: PWSNIFF must not read
 * the IP header itself as the TCP header (and so "find" a login there).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inputHarness, ipv4Tcp } from '../../../test/input-harness.js';
import PWSNIFF from './index.js';

/** A packet whose bytes, read as TCP at IHL×4, carry an FTP login; only its IHL field is wrong. */
function shortHeader(ihl: number): Buffer {
  const b = Buffer.alloc(60);
  const tcp = ihl * 4;
  b.writeUInt16BE(21, tcp + 2); // destination port FTP
  b[tcp + 12] = 0x50; // data offset 5 words
  b[0] = 0x40 | ihl;
  b[9] = 6; // TCP
  assert.equal(b.readUInt16BE(6) & 0x1fff, 0, 'a first fragment');
  const login = Buffer.from('USER mallory\r\n');
  login.copy(b, tcp + 20);
  return b.subarray(0, tcp + 20 + login.length);
}

describe('PWSNIFF and the IPv4 header length', () => {
  // IHL 1 would put the port into the fragment offset, which PWSNIFF skips anyway.
  for (const ihl of [0, 2, 3, 4]) {
    it(`ignores a packet with IHL ${ihl}`, () => {
      assert.deepEqual(inputHarness(PWSNIFF).run(shortHeader(ihl)), {});
    });
  }

  it('still reads the login of a well-formed packet', () => {
    assert.deepEqual(inputHarness(PWSNIFF).run(ipv4Tcp(21, Buffer.from('USER mallory\r\n'))), { 'pwsniff.user': 'mallory' });
  });
});
