/**
 * Test helper for output plugins: a real group (BASE, LOCAL and the output)
 * put together by assembleGroup, as the daemon does, with the output started.
 * packet() hands the output a record made from plain field values through
 * the group's pipeline, which counts and settles it as it would a kernel packet.
 */
import path from 'node:path';
import pino from 'pino';
import type { GroupNode, OptionNode, Pos } from '../src/config/model.js';

/** The configuration shapes a test builds a group from (tests beside plugins import them from here). */
export type { GroupNode, Pos };
import { assembleGroup } from '../src/core/assemble.js';
import { KeyRegistry } from '../src/core/keys.js';
import { Pipeline } from '../src/core/pipeline.js';
import type { OptionValue, PluginDefinition } from '../src/core/plugin.js';
import { NFLOG_OPTIONS } from '../src/nflog/options.js';
import './builtins.js';

const CONFIG = path.join(process.cwd(), 'harness.conf');

/** A group block: the given inputs, then the output with its options, as a parsed config would give it. */
export function groupOf(inputs: readonly string[], output: string, options: { readonly [name: string]: OptionValue }, id = 1): GroupNode {
  const pos = (line: number): Pos => ({ file: CONFIG, line, col: 1 });
  const opts: OptionNode[] = Object.entries(options).map(([name, v], i) => ({
    name,
    value: v === true ? true : v === false ? 'no' : String(v),
    pos: pos(inputs.length + 3 + i),
    valuePos: pos(inputs.length + 3 + i),
  }));
  return {
    id,
    pos: pos(1),
    options: [],
    plugins: [...inputs.map((spec, i) => ({ spec, pos: pos(i + 2), options: [] })), { spec: output, pos: pos(inputs.length + 2), options: opts }],
  };
}

/** Puts a group together from definitions (found by name first) and built-ins, as the daemon does. */
export async function assembleTest(group: GroupNode, plugins: readonly PluginDefinition[] = []) {
  const keys = new KeyRegistry();
  const grp = await assembleGroup(group, keys, {
    configFile: CONFIG,
    log: pino({ level: 'silent' }),
    checkOnly: false,
    sourceOptions: NFLOG_OPTIONS,
    plugins: Object.fromEntries(plugins.map((d) => [d.name, d])),
  });
  return { keys, grp, pipeline: new Pipeline(grp.inputs, grp.outputs, keys.size) };
}

export async function outputHarness(def: PluginDefinition, options: { [name: string]: OptionValue }) {
  const { keys, grp, pipeline } = await assembleTest(groupOf(['BASE', 'LOCAL'], def.name, options), [def]);
  const stage = grp.outputs[0];
  await stage.instance.start?.();
  const rec = pipeline.record;
  return {
    counters: stage.counters,
    instance: stage.instance,
    /** What the output settled of the records given to it (the durability signal). */
    committed: () => stage.commits.settled,
    /** One packet from field values by key name; then the batch ends. */
    packet(fields: { [name: string]: unknown }) {
      rec.clear();
      for (const [n, v] of Object.entries(fields)) rec.set(keys.get(n)!, v);
      pipeline.deliver();
      pipeline.endBatch();
    },
    flush: () => stage.instance.flush(),
  };
}
