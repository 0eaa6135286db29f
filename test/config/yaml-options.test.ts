import assert from 'node:assert/strict';
import os from 'node:os';
import { describe, it } from 'node:test';
import { parseClassic } from '../../src/config/classic.js';
import { DEFAULT_RMEM, resolveGlobal } from '../../src/config/global.js';
import { ConfigError, type OptionNode } from '../../src/config/model.js';
import { resolveOptions } from '../../src/config/options.js';
import { parseYaml } from '../../src/config/yaml.js';
import type { OptionSpecs } from '../../src/core/plugin.js';

const strip = (m: ReturnType<typeof parseClassic>) => ({
  global: m.global?.options.map((o) => [o.name, o.value]),
  groups: m.groups.map((g) => ({
    id: g.id,
    options: g.options.map((o) => [o.name, o.value]),
    plugins: g.plugins.map((p) => [p.spec, p.options.map((o) => [o.name, o.value])]),
  })),
});

describe('YAML configuration', () => {
  it('describes the same model as the classic syntax', () => {
    const classic = parseClassic(
      'global {\n logfile stdout\n loglevel 2\n}\n1 {\n plugin BASE\n plugin LOGEMU\n logemufile /tmp/a\n logemusync\n}\n',
      'a.conf',
    );
    const yaml = parseYaml(
      'global:\n  logfile: stdout\n  loglevel: 2\ngroups:\n  1:\n    logemufile: /tmp/a\n    logemusync: true\n    plugins: [BASE, LOGEMU]\n',
      'a.yaml',
    );
    assert.deepEqual(strip(yaml), strip(classic));
  });

  it('gives per-instance options, so one group can hold two instances of an output', () => {
    const m = parseYaml(
      [
        'groups:',
        '  3:',
        '    plugins:',
        '      - BASE',
        '      - LOGEMU: { logemufile: /tmp/one }',
        '      - plugin: LOGEMU',
        '        logemufile: /tmp/two',
      ].join('\n'),
      'b.yaml',
    );
    const g = m.groups[0];
    assert.deepEqual(
      g.plugins.map((p) => [p.spec, p.options.map((o) => o.value)]),
      [
        ['BASE', []],
        ['LOGEMU', ['/tmp/one']],
        ['LOGEMU', ['/tmp/two']],
      ],
    );
    assert.deepEqual([g.plugins[2].options[0].valuePos.line, g.plugins[2].options[0].valuePos.col], [7, 21]);
  });

  const BAD: Array<[string, string, number, number, RegExp]> = [
    ['syntax error', 'groups:\n  1: [a\n', 3, 1, /YAML syntax error/],
    ['unknown top-level key', 'group:\n  1: {}\n', 1, 1, /unknown top-level key "group"/],
    ['bad group id', 'groups:\n  abc:\n    plugins: [BASE]\n', 2, 3, /not a group number/],
    ['group out of range', 'groups:\n  99999:\n    plugins: [BASE]\n', 2, 3, /out of range/],
    ['plugins not a list', 'groups:\n  1:\n    plugins: BASE\n', 3, 14, /must be a list/],
    ['list as option value', 'groups:\n  1:\n    logemufile: [a, b]\n    plugins: [BASE]\n', 3, 17, /single value/],
    ['duplicate key', 'global:\n  logfile: a\n  logfile: b\n', 3, 3, /YAML syntax error/],
  ];
  for (const [name, text, line, col, msg] of BAD) {
    it(`error: ${name}`, () => {
      assert.throws(
        () => parseYaml(text, 'bad.yaml'),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.match(err.message, msg);
          assert.deepEqual([err.pos?.line, err.pos?.col], [line, col], err.toString());
          assert.ok(!err.toString().includes('\n'));
          return true;
        },
      );
    });
  }
});

describe('option values', () => {
  const specs: OptionSpecs = {
    name: { type: 'string', default: 'x', description: 'a string' },
    count: { type: 'int', default: 1, min: 0, max: 100, description: 'an int' },
    on: { type: 'bool', default: false, description: 'a flag' },
    size: { type: 'size', default: 0, description: 'a size' },
    mode: { type: 'enum', default: 'a', values: ['a', 'b'], description: 'an enum' },
  };
  const node = (name: string, value: string | true): OptionNode => ({
    name,
    value,
    pos: { file: 'f', line: 4, col: 2 },
    valuePos: { file: 'f', line: 4, col: 8 },
  });

  it('converts every type and applies defaults', () => {
    assert.deepEqual(resolveOptions(specs, [], 'P'), { name: 'x', count: 1, on: false, size: 0, mode: 'a' });
    const v = resolveOptions(specs, [node('count', '0x10'), node('on', true), node('size', '128K'), node('mode', 'b'), node('name', 'y')], 'P');
    assert.deepEqual(v, { name: 'y', count: 16, on: true, size: 131072, mode: 'b' });
    assert.equal(resolveOptions(specs, [node('size', '4M')], 'P').size, 4 * 1024 * 1024);
    assert.equal(resolveOptions(specs, [node('on', 'off')], 'P').on, false);
  });

  const BAD: Array<[string, string | true, RegExp]> = [
    ['on', 'maybe', /P option "on": expected a boolean \(yes\/no, true\/false, on\/off, 1\/0\), got "maybe"/],
    ['count', 'ten', /expected an integer, got "ten"/],
    ['count', '101', /101 is out of range 0-100/],
    ['size', '12X', /expected a size in bytes/],
    ['mode', 'c', /expected one of a, b, got "c"/],
    ['name', true, /expected a value, got no value/],
  ];
  for (const [name, value, msg] of BAD) {
    it(`rejects ${name}=${String(value)} at the value's position`, () => {
      assert.throws(
        () => resolveOptions(specs, [node(name, value)], 'P'),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.match(err.message, msg);
          assert.equal(err.toString().slice(0, 6), 'f:4:8:');
          return true;
        },
      );
    });
  }

  it('rejects unknown global options and lists the known ones', () => {
    assert.throws(
      () => resolveGlobal(parseClassic('global {\n logfiel x\n}\n', 'g.conf')),
      /g\.conf:2:2: unknown global option "logfiel": expected one of logfile, loglevel/,
    );
    assert.deepEqual(resolveGlobal(parseClassic('', 'g.conf')), {
      logfile: 'stderr',
      loglevel: 3,
      errignore: false,
      rmem: DEFAULT_RMEM,
      bufsize: 131072,
      shutdowntimeout: 30,
      sensor: os.hostname().split('.')[0],
    });
  });
});
