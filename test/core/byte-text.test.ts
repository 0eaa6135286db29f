import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { byteTextBuffer, bytesToText, printableForm, putByteText, textForm } from '../../src/core/byte-text.js';

const text = (hex: string) => {
  const b = Buffer.from(hex.replace(/ /g, ''), 'hex');
  return bytesToText(Buffer.concat([Buffer.from('ab'), b, Buffer.from('cd')]), 2, 2 + b.length);
};

/** Byte strings mixing ASCII, valid sequences of every length, and broken, overlong or out-of-range ones. */
function samples(count: number): Buffer[] {
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const pieces = [
    '61',
    '0a',
    '7f',
    'c3a9',
    'd09f',
    'e697a5',
    'f09f94a5',
    'ff',
    'c0af',
    'e08080',
    'eda080',
    'f4908080',
    'c3',
    'e697',
    'f09f94',
    '80',
    'bf',
    'f5',
    'efbfbd',
    'c2a0',
    '5c78',
  ];
  return Array.from({ length: count }, () => Buffer.from(Array.from({ length: 1 + rnd(8) }, () => pieces[rnd(pieces.length)]).join(''), 'hex'));
}

describe('byte text', () => {
  it('decodes ASCII and valid UTF-8 as text', () => {
    assert.equal(bytesToText(Buffer.from('web-in: '), 0, 8), 'web-in: ');
    for (const s of ['été', 'Привет', '日本語', '🔥 fire', 'mixed é日🔥']) {
      const b = Buffer.from(s, 'utf8');
      assert.equal(bytesToText(b, 0, b.length), s);
      assert.equal(textForm(bytesToText(b, 0, b.length)), s);
    }
  });

  it('shows each byte that is not part of valid UTF-8 as \\xNN in text and keeps it as bytes', () => {
    const cases: Array<[string, string]> = [
      ['ff', '\\xff'],
      ['c3', '\\xc3'], // cut short at the end
      ['c3 28', '\\xc3('],
      ['e6 97', '\\xe6\\x97'],
      ['80 bf', '\\x80\\xbf'], // continuation bytes alone
      ['c0 af', '\\xc0\\xaf'], // overlong '/'
      ['e0 80 80', '\\xe0\\x80\\x80'], // overlong
      ['ed a0 80', '\\xed\\xa0\\x80'], // a UTF-16 surrogate
      ['f4 90 80 80', '\\xf4\\x90\\x80\\x80'], // past U+10FFFF
      ['c3 a9 ff c3 a9', 'é\\xffé'],
      ['f0 9f 94 a5 f0 9f 94', '🔥\\xf0\\x9f\\x94'],
    ];
    for (const [hex, shown] of cases) {
      const s = text(hex);
      assert.equal(textForm(s), shown, hex);
      assert.equal(byteTextBuffer(s).toString('hex'), hex.replace(/ /g, ''), `${hex} as bytes`);
    }
  });

  it('renders exactly as Python decodes with backslashreplace, and gives the bytes back, for mixed input', () => {
    const all = samples(2000);
    const py = execFileSync(
      'python3',
      [
        '-c',
        `import sys, json
print(json.dumps([bytes.fromhex(l).decode('utf-8', 'backslashreplace') for l in sys.stdin.read().split()]))`,
      ],
      { input: all.map((b) => b.toString('hex')).join('\n'), encoding: 'utf8' },
    );
    const expected = JSON.parse(py) as string[];
    const out = Buffer.alloc(64);
    all.forEach((b, i) => {
      const s = bytesToText(b, 0, b.length);
      assert.equal(textForm(s), expected[i], b.toString('hex'));
      assert.ok(textForm(s).isWellFormed());
      assert.deepEqual(byteTextBuffer(s), b, `${b.toString('hex')} back to bytes`);
      assert.deepEqual(out.subarray(3, putByteText(out, 3, s)), b);
    });
  });

  it('leaves text of other sources alone and makes lone surrogates well-formed', () => {
    assert.equal(textForm('a\\xffb'), 'a\\xffb');
    assert.equal(textForm('a\ud800b'), 'a\ufffdb');
    assert.equal(byteTextBuffer('é日').toString('utf8'), 'é日');
  });

  it('shows control characters as the \\xNN of their bytes in printable form', () => {
    assert.equal(printableForm('plain été'), 'plain été');
    assert.equal(printableForm('a\tb\nc\x1b[31m\x7f'), 'a\\x09b\\x0ac\\x1b[31m\\x7f');
    assert.equal(printableForm('\u009b1m'), '\\xc2\\x9b1m'); // C1 CSI
    assert.equal(printableForm(text('ff 0a c3 a9')), '\\xff\\x0aé');
  });
});
