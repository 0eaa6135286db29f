/**
 * YAML form of the configuration, the same model as the classic syntax plus
 * per-instance plugin options (so one group may hold two LOGEMU outputs):
 *
 *   global: { logfile: stderr, loglevel: 3 }
 *   groups:
 *     1:
 *       nlbufsiz: 128K
 *       plugins:
 *         - BASE
 *         - LOGEMU: { logemufile: /var/log/a.log }
 *         - plugin: LOGEMU
 *           logemufile: /var/log/b.log
 */
import { createRequire } from 'node:module';
import type { Node, Pair, YAMLMap } from 'yaml';
import type * as Yaml from 'yaml';

// Loaded on first use: most configurations are classic, and start-up time counts.
let yaml: typeof Yaml | null = null;
const lib = (): typeof Yaml => (yaml ??= createRequire(import.meta.url)('yaml') as typeof Yaml);
const isMap = (n: unknown): n is YAMLMap => lib().isMap(n);
const isScalar = (n: unknown): n is Yaml.Scalar => lib().isScalar(n);
const isSeq = (n: unknown): n is Yaml.YAMLSeq => lib().isSeq(n);
import { ConfigError, type ConfigModel, type GroupNode, type OptionNode, type PluginNode, type Pos } from './model.js';

export function parseYaml(text: string, file: string): ConfigModel {
  const lc = new (lib().LineCounter)();
  const doc = lib().parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
  const posAt = (offset: number): Pos => {
    const p = lc.linePos(offset);
    return { file, line: p.line, col: p.col };
  };
  const posOf = (n: Node | null | undefined): Pos => posAt(n?.range?.[0] ?? 0);
  if (doc.errors.length) {
    const e = doc.errors[0];
    throw new ConfigError(`YAML syntax error: ${e.message.split('\n')[0]}`, posAt(e.pos[0]));
  }
  const root = doc.contents;
  if (root === null) return { file, global: null, groups: [] };
  if (!isMap(root)) throw new ConfigError('expected a mapping with "global" and "groups" at the top', posOf(root));

  let global: ConfigModel['global'] = null;
  const groups: GroupNode[] = [];
  for (const pair of root.items as Pair<Node, Node>[]) {
    const key = scalarText(pair.key, posOf);
    if (key === 'global') {
      global = { pos: posOf(pair.key), options: optionsOf(mapOf(pair.value, 'global', posOf), posOf, new Set()) };
    } else if (key === 'groups') {
      const m = mapOf(pair.value, 'groups', posOf);
      for (const g of m.items as Pair<Node, Node>[]) groups.push(groupOf(g, posOf));
    } else {
      throw new ConfigError(`unknown top-level key "${key}": expected "global" or "groups"`, posOf(pair.key));
    }
  }
  return { file, global, groups };
}

type PosOf = (n: Node | null | undefined) => Pos;

function groupOf(pair: Pair<Node, Node>, posOf: PosOf): GroupNode {
  const idText = scalarText(pair.key, posOf);
  const pos = posOf(pair.key);
  if (!/^\d+$/.test(idText)) throw new ConfigError(`"${idText}" is not a group number: expected 0-65535`, pos);
  const id = Number(idText);
  if (id > 65535) throw new ConfigError(`group ${idText} out of range 0-65535`, pos);
  const m = mapOf(pair.value, `group ${id}`, posOf);
  const plugins: PluginNode[] = [];
  for (const item of m.items as Pair<Node, Node>[]) {
    if (scalarText(item.key, posOf) !== 'plugins') continue;
    if (!isSeq(item.value)) throw new ConfigError(`group ${id}: "plugins" must be a list`, posOf(item.value ?? item.key));
    for (const p of item.value.items as Node[]) plugins.push(pluginOf(p, posOf));
  }
  return { id, pos, options: optionsOf(m, posOf, new Set(['plugins'])), plugins };
}

function pluginOf(n: Node, posOf: PosOf): PluginNode {
  if (isScalar(n)) return { spec: scalarText(n, posOf), pos: posOf(n), options: [] };
  if (!isMap(n)) throw new ConfigError('expected a plugin name or a mapping of a plugin to its options', posOf(n));
  const items = n.items as Pair<Node, Node>[];
  const named = items.find((i) => scalarText(i.key, posOf) === 'plugin');
  if (named) {
    return { spec: scalarText(named.value, posOf), pos: posOf(named.value), options: optionsOf(n, posOf, new Set(['plugin'])) };
  }
  if (items.length !== 1) throw new ConfigError('a plugin entry is "NAME", "NAME: {options}" or a mapping with "plugin: NAME"', posOf(n));
  const [only] = items;
  const opts =
    only.value === null || (isScalar(only.value) && only.value.value === null)
      ? []
      : optionsOf(mapOf(only.value, scalarText(only.key, posOf), posOf), posOf, new Set());
  return { spec: scalarText(only.key, posOf), pos: posOf(only.key), options: opts };
}

function optionsOf(m: YAMLMap, posOf: PosOf, skip: Set<string>): OptionNode[] {
  const out: OptionNode[] = [];
  for (const pair of m.items as Pair<Node, Node>[]) {
    const name = scalarText(pair.key, posOf);
    if (skip.has(name)) continue;
    const v = pair.value;
    if (v !== null && !isScalar(v)) throw new ConfigError(`option "${name}" needs a single value, not a list or mapping`, posOf(v));
    const raw = v === null ? null : v.value;
    const value: string | true = raw === null || raw === true ? true : isScalar(v) && v.source !== undefined ? String(v.source) : String(raw);
    out.push({ name, value, pos: posOf(pair.key), valuePos: v ? posOf(v) : posOf(pair.key) });
  }
  return out;
}

function mapOf(n: Node | null, what: string, posOf: PosOf): YAMLMap {
  if (!isMap(n)) throw new ConfigError(`"${what}" must be a mapping of names to values`, posOf(n));
  return n;
}

function scalarText(n: Node | null, posOf: PosOf): string {
  if (!isScalar(n) || n.value === null || typeof n.value === 'object') throw new ConfigError('expected a plain value here', posOf(n));
  return String(n.value);
}
