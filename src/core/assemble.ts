/**
 * Builds one group's pipeline from its config block: loads the plugins,
 * hands each block option to the plugins that declare it, registers keys,
 * creates outputs (which resolve the keys they read) and then inputs (which
 * learn which of their keys are read). Everything is validated here, before
 * anything is opened; errors name file, line, column, plugin and option.
 */
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { ConfigError, type GroupNode, type OptionNode, type PluginNode, type Pos } from '../config/model.js';
import { DEFAULT_RMEM } from '../config/global.js';
import { resolveOptions } from '../config/options.js';
import { Counters } from './counters.js';
import type { Key, KeyRegistry } from './keys.js';
import { builtinInputKeys, loadPlugin, loadSource } from './loader.js';
import { OutputCommits } from './output-commits.js';
import type { OutputStage, Stage } from './pipeline.js';
import type {
  DivertTarget,
  InputContext,
  InputDefinition,
  InputInstance,
  OptionSpecs,
  OptionValues,
  OutputContext,
  OutputDefinition,
  PluginDefinition,
  SourceContext,
  SourceDefinition,
  SourceInstance,
} from './plugin.js';

export interface AssembleOptions {
  configFile: string;
  log: Logger;
  checkOnly: boolean;
  /** Options of the group's source (NFLOG settings), which may also appear in the block. */
  sourceOptions: OptionSpecs;
  /** Definitions by the name written in `plugin` lines, found before built-ins and module paths. */
  plugins?: { readonly [spec: string]: PluginDefinition };
  /** This machine's name as a sensor (global `sensor`); default the host name. */
  sensor?: string;
  /** The netlink receive buffer of kernel sources (global `rmem`). */
  rmem?: number;
}

export interface StageInfo {
  readonly name: string;
  readonly kind: 'source' | 'input' | 'output';
  readonly reads: readonly string[];
  readonly writes: readonly string[];
}

export interface AssembledGroup {
  readonly id: number;
  readonly inputs: Stage<InputInstance>[];
  readonly outputs: OutputStage[];
  /** The outputs that get every record: all but those another output diverts to (divertTo). */
  readonly fanout: OutputStage[];
  readonly sourceOptions: OptionValues;
  /** The block's `source` when it is not the kernel NFLOG group: built, not started. */
  readonly source?: { readonly instance: SourceInstance; readonly line: string };
  readonly info: StageInfo[];
}

interface Loaded {
  node: PluginNode;
  def: PluginDefinition | SourceDefinition;
  name: string;
  options: OptionValues;
  optionNodes: OptionNode[];
  counters: Counters;
  log: Logger;
  reads: Set<string>;
  writes: string[];
}

export async function assembleGroup(group: GroupNode, keys: KeyRegistry, opts: AssembleOptions): Promise<AssembledGroup> {
  const configDir = path.dirname(path.resolve(opts.configFile));
  // `source NAME`: the block reads NAME instead of the kernel NFLOG group of its number.
  const sourceNode = group.options.filter((o) => o.name === 'source').at(-1);
  const sourceDef = sourceNode ? await loadSource(sourceNode.value === true ? '' : sourceNode.value, sourceNode.valuePos, configDir) : null;
  const sourceSpecs = sourceDef ? sourceDef.options : opts.sourceOptions;
  group = { ...group, options: group.options.filter((o) => o.name !== 'source') };
  const defs: PluginDefinition[] = [];
  for (const node of group.plugins) {
    const given = opts.plugins && Object.hasOwn(opts.plugins, node.spec) ? opts.plugins[node.spec] : undefined;
    defs.push(given ?? (await loadPlugin(node.spec, node.pos, configDir)));
  }
  if (!defs.some((d) => d.kind === 'output')) {
    throw new ConfigError(`group ${group.id} has no output plugin: nothing would be logged`, group.pos);
  }

  const owned = claimBlockOptions(group, defs, sourceSpecs);
  const sourceOptions = resolveOptions(sourceSpecs, owned.get(SOURCE) ?? [], sourceDef ? `source ${sourceDef.name}` : `group ${group.id}`, group.pos);
  if (sourceDef) {
    const input = defs.find((d) => d.kind === 'input');
    if (input)
      throw new ConfigError(
        `group ${group.id}: source ${sourceDef.name} delivers whole records; input plugin ${input.name} has no packet to read here`,
        group.plugins[defs.indexOf(input)].pos,
      );
  }

  const seen = new Map<string, number>();
  const plugins: Loaded[] = group.plugins.map((node, i) => {
    const def = defs[i];
    const n = (seen.get(def.name) ?? 0) + 1;
    seen.set(def.name, n);
    const name = n === 1 ? def.name : `${def.name}#${n}`;
    for (const o of node.options) {
      if (!Object.hasOwn(def.options, o.name)) throw unknownOption(o, `plugin ${def.name} takes ${optionList(def.options)}`);
    }
    const nodes = [...(owned.get(i) ?? []), ...node.options];
    return {
      node,
      def,
      name,
      options: resolveOptions(def.options, nodes, def.name, node.pos),
      optionNodes: nodes,
      counters: new Counters(),
      log: opts.log.child({ group: group.id, plugin: name }),
      reads: new Set<string>(),
      writes: [],
    };
  });

  // Keys the group's inputs (or its source) produce, by name.
  const produced = new Map<string, Key>();
  for (const p of plugins) {
    if (p.def.kind !== 'input') continue;
    for (const k of p.def.produces) produced.set(k.name, keys.register(k));
  }
  if (sourceDef) {
    for (const k of [...(sourceDef.inputKeys ? await builtinInputKeys() : []), ...sourceDef.produces]) produced.set(k.name, keys.register(k));
  }
  const read = new Set<string>();
  const inputNames = sourceDef ? [`source ${sourceDef.name}`] : plugins.filter((p) => p.def.kind === 'input').map((p) => p.def.name);
  const diverts = new Map<string, { by: Loaded; option: string; stage?: OutputStage }>();

  const outputs: OutputStage[] = [];
  for (const p of plugins) {
    if (p.def.kind !== 'output') continue;
    const resolve = (name: string): Key | undefined => {
      const k = produced.get(name);
      if (k) {
        p.reads.add(name);
        read.add(name);
      }
      return k;
    };
    const ctx: OutputContext = {
      ...baseContext(p, group, opts),
      checkOnly: opts.checkOnly,
      key(name) {
        const k = resolve(name);
        if (!k) {
          const by = inputNames.length ? `inputs: ${inputNames.join(', ')}` : 'the group has no input plugin';
          fail(p, `reads key "${name}", which no input of group ${group.id} produces (${by})`);
        }
        return k;
      },
      optionalKey: resolve,
      allKeys() {
        for (const name of produced.keys()) resolve(name);
        return [...produced.values()];
      },
      producedKeys: () => [...produced.values()],
      commit: (n) => commits.commit(n),
      divertTo: (name, option) => divertTarget(p, name, option, diverts),
    };
    const commits = new OutputCommits(p.counters, p.log);
    outputs.push({ ...stage(p, await create(p, () => (p.def as OutputDefinition).create(ctx))), commits });
  }

  const fanout = resolveDiverts(outputs, diverts, group.id);

  let source: AssembledGroup['source'];
  if (sourceDef && sourceNode) {
    const p: Loaded = {
      node: { spec: sourceDef.name, pos: sourceNode.pos, options: [] },
      def: sourceDef,
      name: sourceDef.name,
      options: sourceOptions,
      optionNodes: owned.get(SOURCE) ?? [],
      counters: new Counters(),
      log: opts.log.child({ group: group.id, source: sourceDef.name }),
      reads: new Set(),
      writes: [],
    };
    const ctx: SourceContext = {
      ...baseContext(p, group, opts),
      checkOnly: opts.checkOnly,
      want(name) {
        const k = produced.get(name);
        if (!k || !read.has(name)) return null;
        if (!p.writes.includes(name)) p.writes.push(name);
        return k;
      },
      known: (name) => produced.has(name),
      rmem: opts.rmem ?? DEFAULT_RMEM,
    };
    const instance = await create(p, () => sourceDef.create(ctx));
    // A source may ask for keys lazily (a collector, as records show them): it writes every key read that it produces.
    for (const name of read) if (produced.has(name) && !p.writes.includes(name)) p.writes.push(name);
    source = { instance, line: sourceDef.describe?.(sourceOptions) ?? sourceDef.name };
    plugins.unshift(p);
  }

  // Inputs are created last to first, so an input that reads an earlier input's keys marks them read in time.
  const inputs: Stage<InputInstance>[] = [];
  for (let i = plugins.length - 1; i >= 0; i--) {
    const p = plugins[i];
    if (p.def.kind !== 'input') continue;
    const own = new Map(p.def.produces.map((k) => [k.name, produced.get(k.name)!]));
    const earlier = new Map<string, Key>();
    for (const q of plugins.slice(0, i)) if (q.def.kind === 'input') for (const k of q.def.produces) earlier.set(k.name, produced.get(k.name)!);
    const ctx: InputContext = {
      ...baseContext(p, group, opts),
      checkOnly: opts.checkOnly,
      want(name) {
        const k = own.get(name);
        if (!k || !read.has(name)) return null;
        p.writes.push(name);
        return k;
      },
      key(name) {
        const k = earlier.get(name);
        if (!k) fail(p, `reads key "${name}", which no earlier input of group ${group.id} produces`);
        p.reads.add(name);
        read.add(name);
        return k;
      },
    };
    inputs.unshift(stage(p, await create(p, () => (p.def as InputDefinition).create(ctx))));
  }

  const info = plugins.map(
    (p): StageInfo => ({
      name: p.name,
      kind: p.def.kind,
      reads: [...p.reads],
      writes: p.def.kind === 'output' ? [] : p.writes,
    }),
  );
  return { id: group.id, inputs, outputs, fanout, sourceOptions, source, info };
}

const SOURCE = -1;

/** Maps each block option to the plugins (by index) and/or source that declare it. */
function claimBlockOptions(group: GroupNode, defs: PluginDefinition[], sourceSpecs: OptionSpecs): Map<number, OptionNode[]> {
  const owned = new Map<number, OptionNode[]>();
  const claim = (i: number, o: OptionNode) => {
    const list = owned.get(i) ?? [];
    list.push(o);
    owned.set(i, list);
  };
  for (const o of group.options) {
    let claimed = false;
    if (Object.hasOwn(sourceSpecs, o.name)) {
      claim(SOURCE, o);
      claimed = true;
    }
    defs.forEach((d, i) => {
      if (Object.hasOwn(d.options, o.name)) {
        claim(i, o);
        claimed = true;
      }
    });
    if (!claimed) {
      const plugins = defs.map((d) => `${d.name} (${optionList(d.options)})`).join('; ');
      throw unknownOption(o, `the plugins of group ${group.id} take: ${plugins}; group settings: ${Object.keys(sourceSpecs).join(', ')}`);
    }
  }
  return owned;
}

function optionList(specs: OptionSpecs): string {
  const names = Object.keys(specs);
  return names.length ? names.join(', ') : 'no options';
}

function unknownOption(o: OptionNode, known: string): ConfigError {
  return new ConfigError(`unknown option "${o.name}": ${known}`, o.pos);
}

function baseContext(p: Loaded, group: GroupNode, opts: AssembleOptions) {
  return {
    name: p.name,
    group: group.id,
    options: p.options,
    log: p.log,
    counters: p.counters,
    // Inputs ignore it; outputs and sources forward or read records of this sensor.
    sensor: opts.sensor ?? os.hostname().split('.')[0],
    fail: (message: string, option?: string): never => fail(p, message, option),
  };
}

/** ctx.divertTo(): a handle on another output of the group, resolved once every output exists. */
function divertTarget(p: Loaded, name: string, option: string, diverts: Map<string, { by: Loaded; option: string; stage?: OutputStage }>): DivertTarget {
  if (name === p.name) fail(p, 'an output cannot divert to itself', option);
  const other = diverts.get(name);
  if (other) fail(p, `${name} already gets what ${other.by.name} diverts`, option);
  const t: { by: Loaded; option: string; stage?: OutputStage } = { by: p, option };
  diverts.set(name, t);
  return {
    write(rec) {
      const s = t.stage!;
      s.counters.received++;
      try {
        s.instance.write(rec);
      } catch (err) {
        s.counters.dropped++;
        s.commits.settleInPlace();
        throw err;
      }
    },
    endBatch: () => t.stage!.instance.endBatch(),
  };
}

/** Finds every divert target; returns the outputs that get every record (the others). */
function resolveDiverts(outputs: OutputStage[], diverts: Map<string, { by: Loaded; option: string; stage?: OutputStage }>, group: number): OutputStage[] {
  for (const [name, t] of diverts) {
    t.stage = outputs.find((o) => o.name === name);
    if (!t.stage) fail(t.by, `group ${group} has no output named "${name}" (outputs: ${outputs.map((o) => o.name).join(', ')})`, t.option);
  }
  return outputs.filter((o) => !diverts.has(o.name));
}

function fail(p: Loaded, message: string, option?: string): never {
  const optNode = option ? p.optionNodes.find((o) => o.name === option) : undefined;
  const pos: Pos = optNode?.valuePos ?? p.node.pos;
  throw new ConfigError(option ? `${p.def.name} option "${option}": ${message}` : `plugin ${p.def.name}: ${message}`, pos);
}

async function create<T>(p: Loaded, make: () => T | Promise<T>): Promise<T> {
  try {
    return await make();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`plugin ${p.def.name} cannot be set up: ${(err as Error).message}`, p.node.pos);
  }
}

function stage<T>(p: Loaded, instance: T): Stage<T> {
  return { name: p.name, instance, counters: p.counters, log: p.log };
}
