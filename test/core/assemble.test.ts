import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import pino from 'pino';
import { parseClassic } from '../../src/config/classic.js';
import { ConfigError } from '../../src/config/model.js';
import { assembleGroup } from '../../src/core/assemble.js';
import { KeyRegistry } from '../../src/core/keys.js';
import { Packet } from '../../src/core/packet.js';
import { Pipeline } from '../../src/core/pipeline.js';
import { NFLOG_OPTIONS } from '../../src/nflog/options.js';
import '../builtins.js';
import { tempDir } from '../daemon.js';

const log = pino({ level: 'silent' });
const dir = tempDir('specter-assemble-');

// Third-party plugins as plain JavaScript modules, loaded by path like a user's own plugin.
fs.writeFileSync(
  path.join(dir, 'counter-input.mjs'),
  `
export default {
  kind: 'input', name: 'COUNTER', description: 'test input', options: { step: { type: 'int', default: 1, description: 'step' } },
  produces: [{ name: 'test.n', type: 'u32' }, { name: 'test.twice', type: 'u32' }, { name: 'test.label', type: 'string' }],
  create(ctx) {
    const n = ctx.want('test.n'), twice = ctx.want('test.twice'), label = ctx.want('test.label');
    globalThis.wanted = { n: !!n, twice: !!twice, label: !!label };
    let i = 0;
    return { process(pkt, rec) { i += ctx.options.step; if (n) rec.set(n, i); if (twice) rec.set(twice, 2 * i); if (label) rec.set(label, 'x' + i); } };
  },
};`,
);
fs.writeFileSync(
  path.join(dir, 'collect-output.mjs'),
  `
export default {
  kind: 'output', name: 'COLLECT', description: 'test output',
  options: { field: { type: 'string', default: 'test.n', description: 'key to collect' }, fail_on: { type: 'int', default: -1, description: 'throw on this value' } },
  create(ctx) {
    const k = ctx.key(ctx.options.field);
    globalThis.collected = [];
    globalThis.batches = 0;
    return {
      write(rec) { const v = rec.get(k); if (v === ctx.options.fail_on) throw new Error('boom'); globalThis.collected.push(v); },
      endBatch() { globalThis.batches++; },
      async flush() {}, async close() {},
    };
  },
};`,
);

const g = globalThis as unknown as { wanted: Record<string, boolean>; collected: unknown[]; batches: number };

async function assemble(block: string, keys = new KeyRegistry()) {
  const file = path.join(dir, 'specter.conf');
  fs.writeFileSync(file, block);
  const model = parseClassic(block, file);
  return assembleGroup(model.groups[0], keys, { configFile: file, log, checkOnly: false, sourceOptions: NFLOG_OPTIONS });
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

describe('group assembly', () => {
  it('decodes only the keys some output reads', async () => {
    const keys = new KeyRegistry();
    const grp = await assemble('1 {\n plugin ./counter-input.mjs\n plugin ./collect-output.mjs\n field test.twice\n step 3\n}\n', keys);
    assert.deepEqual(g.wanted, { n: false, twice: true, label: false });
    const info = grp.info.map((s) => [s.name, s.kind, s.reads.join(','), s.writes.join(',')]);
    assert.deepEqual(info, [
      ['COUNTER', 'input', '', 'test.twice'],
      ['COLLECT', 'output', 'test.twice', ''],
    ]);
    const p = new Pipeline(grp.inputs, grp.outputs, keys.size);
    const pkt = new Packet();
    p.packet(pkt);
    p.packet(pkt);
    p.endBatch();
    assert.deepEqual(g.collected, [6, 12]);
    assert.equal(g.batches, 1);
    assert.equal(grp.outputs[0].counters.received, 2);
  });

  it('fails start-up when an output reads a key no input of the group produces', async () => {
    const err = await assembleError('1 {\n plugin ./collect-output.mjs\n field ip.saddr\n}\n');
    assert.match(err.toString(), /specter\.conf:2:9: plugin COLLECT: reads key "ip\.saddr", which no input of group 1 produces/);
  });

  it('names the plugins and their options for an unknown option', async () => {
    const err = await assembleError('1 {\n plugin ./counter-input.mjs\n plugin ./collect-output.mjs\n fieldd x\n}\n');
    assert.equal(err.pos?.line, 4);
    assert.equal(err.pos?.col, 2);
    assert.match(err.message, /unknown option "fieldd".*COUNTER \(step\).*COLLECT \(field, fail_on\)/);
  });

  it('rejects a group without output', async () => {
    const err = await assembleError('1 {\n plugin ./counter-input.mjs\n}\n');
    assert.match(err.message, /no output plugin/);
  });

  it('rejects an unknown built-in with the list of built-ins', async () => {
    const err = await assembleError('1 {\n plugin NOSUCH\n}\n');
    assert.match(err.message, /unknown plugin "NOSUCH": expected a built-in \(BASE, .*LOGEMU/);
    assert.equal(err.pos?.line, 2);
  });

  it('reports a module that is not a plugin', async () => {
    fs.writeFileSync(path.join(dir, 'not-a-plugin.mjs'), 'export default { hello: 1 };');
    const err = await assembleError('1 {\n plugin ./not-a-plugin.mjs\n}\n');
    assert.match(err.message, /plugin module "\.\/not-a-plugin\.mjs" must export kind "input", "output" or "source"/);
  });

  it('keeps delivering to other outputs when one throws, and counts the error', async () => {
    const keys = new KeyRegistry();
    const grp = await assemble('1 {\n plugin ./counter-input.mjs\n plugin ./collect-output.mjs\n fail_on 2\n}\n', keys);
    const p = new Pipeline(grp.inputs, grp.outputs, keys.size);
    const pkt = new Packet();
    for (let i = 0; i < 3; i++) p.packet(pkt);
    assert.deepEqual(g.collected, [1, 3]);
    assert.equal(grp.outputs[0].counters.errors, 1);
    assert.equal(grp.outputs[0].counters.dropped, 1);
  });
});
