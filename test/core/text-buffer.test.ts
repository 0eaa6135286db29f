/** TextBuffer: numbers and addresses as text, and slices that stay valid when the buffer is renewed. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { putFixed, putIpv4, putUint, TextBuffer } from '../../src/core/text-buffer.js';

const text = (fill: (t: TextBuffer) => void) => {
  const t = new TextBuffer(64);
  t.reserve(48);
  fill(t);
  return t.take().toString('latin1');
};

describe('TextBuffer', () => {
  it('writes integers as String() does', () => {
    const around = Array.from({ length: 16 }, (_, i) => 10 ** i).flatMap((p) => [p - 1, p, p + 1]);
    for (const n of [...around, 65535, 2147483647, 2147483648, 4294967295, 2 ** 53 - 1]) {
      assert.equal(
        text((t) => {
          t.pos = putUint(t.buf, t.pos, n);
        }),
        String(n),
      );
    }
    for (const n of [-1, -2147483648, 2147483647, -(2 ** 53 - 1)])
      assert.equal(
        text((t) => t.int(n)),
        String(n),
      );
    assert.equal(
      text((t) => {
        t.pos = putFixed(t.buf, t.pos, 4321, 6);
      }),
      '004321',
    );
  });

  it('writes dotted quads and hex', () => {
    for (const [a, s] of [
      [0xc0a8000a, '192.168.0.10'],
      [0xffffffff, '255.255.255.255'],
      [0, '0.0.0.0'],
    ] as const) {
      assert.equal(
        text((t) => {
          t.pos = putIpv4(t.buf, t.pos, a);
        }),
        s,
      );
    }
    const mac = Uint8Array.of(0x00, 0x1b, 0xa0, 0xff, 0x0c, 0x9e);
    assert.equal(
      text((t) => t.hex(mac, 58)),
      '00:1b:a0:ff:0c:9e',
    );
    assert.equal(
      text((t) => t.hex(mac, 45, true)),
      '00-1B-A0-FF-0C-9E',
    );
    assert.equal(
      text((t) => t.hex(mac)),
      '001ba0ff0c9e',
    );
  });

  it('keeps taken slices intact while later records go to a new buffer', () => {
    const t = new TextBuffer(64);
    const taken: Buffer[] = [];
    for (let i = 0; i < 100; i++) {
      t.reserve(30);
      t.latin1(`record ${i};`);
      if (i % 7 === 6) taken.push(t.take());
    }
    taken.push(t.take());
    const all = Buffer.concat(taken).toString('latin1');
    assert.equal(all, Array.from({ length: 100 }, (_, i) => `record ${i};`).join(''));
  });

  it('carries a record begun before a renewal into the new buffer, and rewinds to a mark', () => {
    const t = new TextBuffer(32);
    t.reserve(20);
    t.latin1('first;');
    const mark = t.mark();
    t.latin1('second-');
    t.reserve(40); // renews: the pending "first;second-" moves along
    t.latin1('half written');
    t.rewind(mark);
    t.reserve(8);
    t.latin1('third;');
    assert.equal(t.take().toString('latin1'), 'first;third;');
  });

  it('reuses a buffer once every slice of it is released, never one still held', () => {
    const t = new TextBuffer(64);
    const buffers = new Set<ArrayBufferLike>();
    let held: Buffer | null = null;
    for (let i = 0; i < 200; i++) {
      t.reserve(20);
      t.latin1(`line ${String(i).padStart(4, '0')}\n`);
      const slice = t.take();
      buffers.add(slice.buffer);
      if (i === 3)
        held = slice; // a sink still writing this one
      else t.release(slice);
    }
    assert.equal(held!.toString('latin1'), 'line 0003\n');
    assert.ok(buffers.size <= 4, `${buffers.size} buffers for 200 released records`);
  });

  it('writes UTF-8 text', () => {
    assert.equal(
      text((t) => t.utf8('grüß 🌍')),
      Buffer.from('grüß 🌍').toString('latin1'),
    );
  });
});
