/** The column rule: which columns are written, left to the database, or refused. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyRegistry, type Key } from 'specter/plugin';
import { columnName, integerRange, isValueDefault, mapColumns, type Column } from './columns.js';

const reg = new KeyRegistry();
const produced = new Map<string, Key>(
  [
    reg.register({ name: 'oob.prefix', type: 'string' }),
    reg.register({ name: 'tcp.dport', type: 'u16' }),
    reg.register({ name: 'raw.mac_len', type: 'u16' }),
  ].map((k) => [k.name, k]),
);
const col = (name: string, extra: Partial<Column> = {}): Column => ({ name, type: 'integer', generated: false, ...extra });
const names = (cols: Column[], ignoreUnknown = false) => mapColumns(cols, produced, { ignoreUnknown, label: 0 });

describe('SQL column rule', () => {
  it('writes a column a key maps to whatever its default', () => {
    const m = names([col('oob_prefix', { type: 'text', hasDefault: true }), col('tcp_dport', { hasDefault: false })]);
    assert.deepEqual(
      m.mapped.map((x) => [x.column.name, x.key?.name]),
      [
        ['oob_prefix', 'oob.prefix'],
        ['tcp_dport', 'tcp.dport'],
      ],
    );
  });

  it('never writes an identity, serial, auto-increment or generated column, even one a key name matches', () => {
    const m = names([col('id', { generated: true }), col('tcp_dport', { generated: true }), col('oob_prefix', { type: 'text' })]);
    assert.deepEqual(
      m.mapped.map((x) => x.column.name),
      ['oob_prefix'],
    );
  });

  it('leaves a column with a default and no key to the database, without a warning', () => {
    const m = names([col('seen', { type: 'timestamp', hasDefault: true }), col('tcp_dport')]);
    assert.deepEqual(
      m.mapped.map((x) => x.column.name),
      ['tcp_dport'],
    );
    assert.deepEqual(m.ignored, []);
  });

  it('refuses a column with neither a key nor a default, unless told to ignore it', () => {
    assert.throws(() => names([col('tcp_dprot'), col('tcp_dport')]), /column "tcp_dprot" maps to no key \(closest: tcp\.dport\)/);
    assert.deepEqual(names([col('tcp_dprot'), col('tcp_dport')], true).ignored, ['tcp_dprot']);
  });

  it('reads defaults as the servers report them: NULL in any spelling is no default', () => {
    for (const d of ['NULL', 'null', 'NULL::character varying', 'NULL::text', '(NULL)']) assert.equal(isValueDefault(d), false, d);
    assert.equal(isValueDefault(null), false);
    for (const d of ["'x'", "'x'::character varying", 'now()', 'CURRENT_TIMESTAMP', 'current_timestamp()', '0', "'NULL'"])
      assert.equal(isValueDefault(d), true, d);
  });

  it('names the column of a key so that the mapping reads it back as that key', () => {
    for (const k of produced.keys()) assert.equal(names([col(columnName(k))]).mapped[0].key?.name, k);
  });

  it('writes times as UTC text, without the Z for servers that refuse it', () => {
    const sec = reg.register({ name: 'oob.time.sec', type: 'u32' });
    const local = reg.register({ name: 'local.time', type: 'time' });
    const keys = new Map([
      [sec.name, sec],
      [local.name, local],
    ]);
    const conv = (timeWithoutZone: boolean) =>
      mapColumns([col('oob_time_sec', { type: 'datetime', timeWithoutZone }), col('local_time', { type: 'timestamp with time zone', timeWithoutZone })], keys, {
        ignoreUnknown: false,
        label: 0,
      }).mapped.map((m) => m.convert(m.key!.name === 'oob.time.sec' ? 1700000000 : 1700000000123));
    assert.deepEqual(conv(false), ['2023-11-14T22:13:20.000Z', '2023-11-14T22:13:20.123Z']);
    assert.deepEqual(conv(true), ['2023-11-14T22:13:20.000', '2023-11-14T22:13:20.123']);
  });

  it('writes NULL for a value a narrower integer column cannot hold, and says so at start', () => {
    assert.deepEqual(['smallint', 'smallint(5)', 'smallint(5) unsigned', 'tinyint(3) unsigned', 'integer', 'int(10) unsigned', 'mediumint'].map(integerRange), [
      [-32768, 32767],
      [-32768, 32767],
      [0, 65535],
      [0, 255],
      [-2147483648, 2147483647],
      [0, 4294967295],
      [-8388608, 8388607],
    ]);
    assert.equal(integerRange('bigint'), undefined);
    assert.equal(integerRange('varchar(32)'), undefined);
    const m = names([
      col('tcp_dport', { type: 'smallint(5)', range: integerRange('smallint(5)') }),
      col('raw_mac_len', { type: 'int', range: integerRange('int') }),
    ]);
    assert.deepEqual(m.narrow, ['tcp_dport (smallint(5)) holds -32768..32767, tcp.dport up to 65535']);
    assert.deepEqual([34525, 2048, null].map(m.mapped[0].convert), [null, 2048, null]);
    assert.equal(m.mapped[1].convert(65535), 65535);
  });
});
