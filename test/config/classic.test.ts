import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseClassic } from '../../src/config/classic.js';
import { ConfigError } from '../../src/config/model.js';

const parse = (text: string) => parseClassic(text, 'test.conf');

describe('classic syntax', () => {
  it('reads blocks, options, flags, quotes and comments', () => {
    const m = parse(
      [
        '# a comment line',
        'global {',
        '  logfile "/var/log/with space\tand # hash.log"   # trailing comment',
        '  loglevel 5#glued comment',
        '}',
        '',
        '1 {',
        '  plugin /lib/specter/specter_BASE.so',
        '  plugin LOGEMU',
        '  logemusync',
        '  logemufile "say \\"hi\\" \\\\"',
        '}',
      ].join('\n'),
    );
    assert.deepEqual(
      m.global?.options.map((o) => [o.name, o.value]),
      [
        ['logfile', '/var/log/with space\tand # hash.log'],
        ['loglevel', '5'],
      ],
    );
    assert.equal(m.groups.length, 1);
    const g = m.groups[0];
    assert.equal(g.id, 1);
    assert.deepEqual(
      g.plugins.map((p) => [p.spec, p.pos.line, p.pos.col]),
      [
        ['/lib/specter/specter_BASE.so', 8, 10],
        ['LOGEMU', 9, 10],
      ],
    );
    assert.deepEqual(
      g.options.map((o) => [o.name, o.value, o.valuePos.line, o.valuePos.col]),
      [
        ['logemusync', true, 10, 3],
        ['logemufile', 'say "hi" \\', 11, 14],
      ],
    );
  });

  it('joins continued lines and keeps positions on the physical lines', () => {
    const m = parse('7 {\n  plugin \\\n     LOGEMU\n  logemufile\\\n /x\n}\n');
    const g = m.groups[0];
    assert.equal(g.plugins[0].spec, 'LOGEMU');
    assert.deepEqual([g.plugins[0].pos.line, g.plugins[0].pos.col], [3, 6]);
    assert.deepEqual([g.options[0].name, g.options[0].value, g.options[0].valuePos.line], ['logemufile', '/x', 5]);
  });

  it('keeps several groups apart and accepts an empty file', () => {
    assert.deepEqual(parse('').groups, []);
    const m = parse('0 {\n plugin A\n}\n65535 {\n plugin B\n}\n');
    assert.deepEqual(
      m.groups.map((g) => g.id),
      [0, 65535],
    );
  });
});

// Each malformed input with the line and column the error must name.
const BAD: Array<[string, string, number, number, RegExp]> = [
  ['option outside a block', 'logfile x\n', 1, 1, /outside a block/],
  ['stray closing brace', 'global {\n}\n}\n', 3, 1, /unexpected "}" outside a block/],
  ['unclosed block', '1 {\n plugin BASE\n', 1, 1, /not closed \(opened at line 1\)/],
  ['nested block', '1 {\n 2 {\n}\n', 2, 4, /nested block/],
  ['bad block name', 'groupx {\n}\n', 1, 1, /not a block name: expected "global" or a group number/],
  ['group out of range', '70000 {\n}\n', 1, 1, /out of range 0-65535/],
  ['negative group', '-1 {\n}\n', 1, 1, /not a block name/],
  ['brace missing', 'global\n logfile x\n}\n', 1, 7, /expected "{" after block name "global"/],
  ['text after brace', '1 { plugin BASE\n}\n', 1, 5, /after "{"/],
  ['two words before brace', 'my group {\n}\n', 1, 4, /expected "{" after block name "my"/],
  ['block defined twice', '1 {\n}\n1 {\n}\n', 3, 1, /defined twice \(first at line 1\)/],
  ['option twice', '1 {\n a 1\n a 2\n}\n', 3, 2, /given twice in block 1 \(first at line 2\)/],
  ['unterminated quote', '1 {\n a "abc\n}\n', 2, 4, /unterminated quoted string/],
  ['quote glued to text', '1 {\n a "abc"def\n}\n', 2, 9, /right after a quoted string/],
  ['quote inside a value', '1 {\n a ab"c"\n}\n', 2, 6, /inside a value/],
  ['two values', '1 {\n logemufile a b\n}\n', 2, 15, /one value per option/],
  ['plugin without name', '1 {\n plugin\n}\n', 2, 2, /plugin needs a name/],
  ['plugin in global', 'global {\n plugin BASE\n}\n', 2, 2, /belongs in a group block/],
  ['text after closing brace', '1 {\n} extra\n', 2, 3, /after "}"/],
  ['quoted option name', '1 {\n "a" b\n}\n', 2, 2, /expected an option name/],
  ['brace alone', '{\n}\n', 1, 1, /expected a block name/],
  ['unclosed after continuation', '1 {\n a \\\n', 1, 1, /not closed/],
];

describe('classic syntax errors', () => {
  for (const [name, text, line, col, msg] of BAD) {
    it(name, () => {
      try {
        parse(text);
      } catch (err) {
        assert.ok(err instanceof ConfigError, `not a ConfigError: ${String(err)}`);
        assert.deepEqual([err.pos?.line, err.pos?.col], [line, col], err.toString());
        assert.match(err.message, msg);
        assert.ok(!err.toString().includes('\n'), 'one line');
        assert.ok(err.toString().startsWith(`test.conf:${line}:${col}: `));
        return;
      }
      assert.fail('no error');
    });
  }
});
