/** Sources other than NFLOG (`source NAME` in a block) and outputs fed by another output (divertTo). */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import pino from 'pino';
import { parseClassic } from '../../src/config/classic.js';
import { ConfigError } from '../../src/config/model.js';
import { assembleGroup } from '../../src/core/assemble.js';
import { KeyRegistry } from '../../src/core/keys.js';
import { Pipeline } from '../../src/core/pipeline.js';
import type { SourceInstance } from '../../src/core/plugin.js';
import { NFLOG_OPTIONS } from '../../src/nflog/options.js';
import '../builtins.js';
import { tempDir } from '../daemon.js';

const log = pino({ level: 'silent' });
const dir = tempDir('specter-source-kind-');

// A record source as a third-party module: it sets a key of its own and one of BASE's.
fs.writeFileSync(
  path.join(dir, 'replay-source.mjs'),
  `
export default {
  kind: 'source', name: 'REPLAY', description: 'test source', inputKeys: true,
  options: { replaycount: { type: 'int', default: 2, description: 'records' } },
  produces: [{ name: 'replay.n', type: 'u32' }],
  describe: (o) => 'REPLAY count=' + o.replaycount,
  create(ctx) {
    const n = ctx.want('replay.n'), sport = ctx.want('tcp.sport'), dport = ctx.want('tcp.dport');
    globalThis.sourceSaw = { n: !!n, sport: !!sport, dport: !!dport, knownDport: ctx.known('tcp.dport'), knownX: ctx.known('x.y') };
    return {
      name: 'REPLAY', counters: { received: 0, sent: 0, dropped: 0, errors: 0, extra: {}, add() {}, snapshot() { return {}; } },
      async start(sink) {
        for (let i = 1; i <= ctx.options.replaycount; i++) {
          sink.record.clear();
          if (n) sink.record.set(n, i);
          if (sport) sink.record.set(sport, 1000 + i);
          sink.deliver();
        }
        sink.endBatch();
      },
      async stop() {},
    };
  },
};`,
);
fs.writeFileSync(
  path.join(dir, 'collect.mjs'),
  `
export default {
  kind: 'output', name: 'COLLECT', description: 'test output',
  options: { field: { type: 'string', default: 'replay.n', description: 'key' }, divert: { type: 'string', description: 'output to divert odd values to' } },
  create(ctx) {
    const k = ctx.key(ctx.options.field);
    const to = ctx.options.divert ? ctx.divertTo(ctx.options.divert, 'divert') : null;
    const got = (globalThis.got ??= {})[ctx.name] = [];
    return {
      write(rec) { const v = rec.get(k); if (to && v % 2) to.write(rec); else got.push(v); ctx.commit(1); },
      endBatch() { to?.endBatch(); }, async flush() {}, async close() {},
    };
  },
};`,
);

// The same output without the divert option, to divert to (block options reach every plugin that declares them).
fs.writeFileSync(
  path.join(dir, 'sink.mjs'),
  fs
    .readFileSync(path.join(dir, 'collect.mjs'), 'utf8')
    .replace("name: 'COLLECT'", "name: 'SINK'")
    .replace(/, divert: \{[^}]*\}/, '')
    .replaceAll('field', 'sinkfield'),
);

const g = globalThis as unknown as { sourceSaw: Record<string, boolean>; got: Record<string, unknown[]> };

async function assemble(block: string, keys = new KeyRegistry()) {
  const file = path.join(dir, 'specter.conf');
  fs.writeFileSync(file, block);
  const model = parseClassic(block, file);
  return assembleGroup(model.groups[0], keys, { configFile: file, log, checkOnly: false, sourceOptions: NFLOG_OPTIONS, sensor: 'fw1' });
}

async function assembleError(block: string): Promise<ConfigError> {
  try {
    await assemble(block);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected an error');
}

describe('record sources', () => {
  it('feed the outputs whole records, with the keys of the built-in inputs and their own, only those read', async () => {
    const keys = new KeyRegistry();
    const grp = await assemble('9 {\n source ./replay-source.mjs\n replaycount 3\n plugin ./collect.mjs\n plugin ./sink.mjs\n sinkfield tcp.sport\n}\n', keys);
    assert.deepEqual(g.sourceSaw, { n: true, sport: true, dport: false, knownDport: true, knownX: false });
    assert.equal(grp.source?.line, 'REPLAY count=3');
    assert.deepEqual(
      grp.info.map((s) => [s.kind, s.name, s.writes.join(','), s.reads.join(',')]),
      [
        ['source', 'REPLAY', 'replay.n,tcp.sport', ''],
        ['output', 'COLLECT', '', 'replay.n'],
        ['output', 'SINK', '', 'tcp.sport'],
      ],
    );
    const p = new Pipeline(grp.inputs, grp.fanout, keys.size);
    await (grp.source!.instance as SourceInstance).start(p);
    assert.deepEqual(g.got.COLLECT, [1, 2, 3]);
    assert.deepEqual(g.got.SINK, [1001, 1002, 1003]);
    assert.equal(p.committed(), 3);
  });

  it('list as written, for --check, every key read that they produce, also those they resolve later', async () => {
    const grp = await assemble('9 {\n source ./replay-source.mjs\n plugin ./collect.mjs\n plugin ./sink.mjs\n sinkfield oob.prefix\n}\n');
    assert.deepEqual(grp.info[0].writes, ['replay.n', 'oob.prefix']);
  });

  it('refuse input plugins, which would have no packet to read', async () => {
    const err = await assembleError('9 {\n source ./replay-source.mjs\n plugin BASE\n plugin ./collect.mjs\n}\n');
    assert.match(err.toString(), /specter\.conf:3:9: group 9: source REPLAY delivers whole records; input plugin BASE has no packet to read here/);
  });

  it('name an unknown source with the ones there are', async () => {
    const err = await assembleError('9 {\n source NOSUCH\n plugin ./collect.mjs\n}\n');
    assert.match(err.toString(), /specter\.conf:2:9: unknown source "NOSUCH": expected NFLOG(, [A-Z]+)* or a path to a JavaScript module/);
  });

  it("take their own options, and NFLOG's are unknown to them", async () => {
    const err = await assembleError('9 {\n source ./replay-source.mjs\n qthreshold 5\n plugin ./collect.mjs\n}\n');
    assert.match(err.message, /unknown option "qthreshold".*group settings: replaycount/);
  });

  it('leave NFLOG the default: "source NFLOG" is the same as none', async () => {
    const grp = await assemble('9 {\n source NFLOG\n qthreshold 5\n plugin BASE\n plugin ./collect.mjs\n field ip.saddr\n}\n');
    assert.equal(grp.source, undefined);
    assert.equal(grp.sourceOptions.qthreshold, 5);
  });
});

describe('divertTo', () => {
  it('feeds the named output only what is diverted to it, and takes it out of the fan-out', async () => {
    const keys = new KeyRegistry();
    const grp = await assemble('9 {\n source ./replay-source.mjs\n replaycount 4\n plugin ./collect.mjs\n divert SINK\n plugin ./sink.mjs\n}\n', keys);
    assert.deepEqual(
      grp.fanout.map((o) => o.name),
      ['COLLECT'],
    );
    const p = new Pipeline(grp.inputs, grp.fanout, keys.size);
    await (grp.source!.instance as SourceInstance).start(p);
    assert.deepEqual(g.got.COLLECT, [2, 4]);
    assert.deepEqual(g.got.SINK, [1, 3]);
    assert.equal(grp.outputs[1].counters.received, 2);
  });

  it('names the option and the outputs there are when the target is unknown or itself', async () => {
    const unknown = await assembleError('9 {\n source ./replay-source.mjs\n plugin ./collect.mjs\n divert LOGEMU\n}\n');
    assert.match(unknown.toString(), /specter\.conf:4:9: COLLECT option "divert": group 9 has no output named "LOGEMU" \(outputs: COLLECT\)/);
    const self = await assembleError('9 {\n source ./replay-source.mjs\n plugin ./collect.mjs\n divert COLLECT\n}\n');
    assert.match(self.message, /cannot divert to itself/);
  });
});
