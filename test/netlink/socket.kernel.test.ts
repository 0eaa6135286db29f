/**
 * The netlink addon against the kernel, in a namespace of the test's own: an
 * NFLOG group bound through it, batched receive, pause/resume, views that stay
 * valid, ENOBUFS counted with reading going on, handler faults contained.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT } from '../daemon.js';
import { NetNs } from '../netns.js';

const PROBE = path.join(ROOT, 'dist', 'test', 'netlink', 'probe.js');

describe('netlink addon in a namespace', { timeout: 60000 }, () => {
  let ns: NetNs;
  before(() => {
    ns = new NetNs('spt-netlink');
    const rules = [31, 32, 33, 34, 35].map((g) => `  udp dport ${9300 + g} log group ${g} drop`).join('\n');
    ns.nft(`table ip t {\n chain input {\n  type filter hook input priority 0; policy accept;\n${rules}\n }\n}\n`);
  });
  after(() => ns.delete());

  const probe = (scenario: string, group: number) => JSON.parse(ns.exec(process.execPath, [PROBE, scenario, String(group), String(9300 + group)]));

  it('receives in batches, reads nothing while paused, and keeps handed-out views intact', () => {
    const r = probe('pause', 31);
    assert.deepEqual(r.failures, []);
    assert.equal(r.before, 50);
    assert.equal(r.whilePaused, 0, 'nothing read while paused');
    assert.equal(r.after, 270, 'everything kept by the kernel read after resuming');
    assert.ok(r.maxBatch > 1, `several datagrams per call after resuming (max ${r.maxBatch})`);
    assert.ok(r.maxBatch <= 64, 'at most 64 datagrams per call');
    assert.equal(r.intact, true, 'views into earlier batches unchanged');
    assert.ok(r.rcvbuf >= 2 << 20, `SO_RCVBUFFORCE passes net.core.rmem_max (got ${r.rcvbuf})`);
  });

  it('holds the rest of a batch when a handler pauses in the middle, and hands it on when resumed', () => {
    const r = probe('hold', 34);
    assert.deepEqual(r.failures, []);
    assert.equal(r.whileHeld, 10, 'nothing handed on after the pause');
    assert.equal(r.after, 65, 'the held datagrams, then reading again');
  });

  it('with a small read size per datagram, reads a backlog in wake-ups of more than 64 and reports a larger datagram as EMSGSIZE', () => {
    const r = probe('sized', 35);
    assert.deepEqual(r.failures, []);
    assert.equal(r.backlog.packets, 300);
    assert.equal(r.backlog.seqGaps, 0, 'in order, none lost');
    assert.ok(r.backlog.maxBatch > 64 && r.backlog.maxBatch <= 256, `up to 256 datagrams per wake-up (max ${r.backlog.maxBatch})`);
    assert.equal(r.emsgsize, 1, 'the 6000-byte packet did not fit in 4096 bytes');
    assert.equal(r.packets, 305, 'the packets after it arrived');
    assert.equal(r.seqGaps, 1, 'the lost one is a gap in the sequence');
  });

  it('counts ENOBUFS and reads on: every packet received or a sequence gap', () => {
    const r = probe('enobufs', 32);
    assert.deepEqual(r.failures, []);
    assert.ok(r.enobufs >= 1, 'the overrun was reported');
    assert.ok(r.seqGaps > 0, 'packets were lost');
    assert.equal(r.packets + r.seqGaps, 510);
  });

  it('goes on after a handler throws and stops delivering once closed inside a batch', () => {
    const r = probe('faults', 33);
    assert.deepEqual(r.failures, ['handler failed']);
    assert.equal(r.packets, 30, 'datagrams after the throw delivered');
    assert.equal(r.afterClose, 0, 'no datagram after close');
  });
});
