/** Converts raw option values of the config into typed values, by each option's spec. */
import type { OptionSpec, OptionSpecs, OptionValue } from '../core/plugin.js';
import { ConfigError, type OptionNode, type Pos } from './model.js';

const TRUE = new Set(['yes', 'true', 'on', '1']);
const FALSE = new Set(['no', 'false', 'off', '0']);
const SIZE = /^(\d+)([kmg]?)$/i;

function convertOption(spec: OptionSpec, node: OptionNode, owner: string): OptionValue {
  const bad = (expected: string): never => {
    const got = node.value === true ? 'no value' : `"${node.value}"`;
    throw new ConfigError(`${owner} option "${node.name}": expected ${expected}, got ${got}`, node.valuePos);
  };
  const v = node.value;
  switch (spec.type) {
    case 'bool':
      if (v === true) return true;
      if (TRUE.has(v.toLowerCase())) return true;
      if (FALSE.has(v.toLowerCase())) return false;
      return bad('a boolean (yes/no, true/false, on/off, 1/0)');
    case 'string':
      if (v === true) return bad('a value');
      return v;
    case 'int': {
      if (v === true || !/^(0x[0-9a-f]+|-?\d+)$/i.test(v)) return bad('an integer');
      const n = Number(v);
      return inRange(spec, n, node, owner);
    }
    case 'size': {
      const m = v === true ? null : SIZE.exec(v);
      if (!m) return bad('a size in bytes, optionally with a K, M or G suffix (e.g. 128K)');
      const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
      return inRange(spec, Number(m[1]) * mult, node, owner);
    }
    case 'enum':
      if (v === true || !spec.values?.includes(v)) return bad(`one of ${spec.values?.join(', ')}`);
      return v;
  }
}

function inRange(spec: OptionSpec, n: number, node: OptionNode, owner: string): number {
  if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
    throw new ConfigError(`${owner} option "${node.name}": ${n} is out of range ${spec.min ?? '-∞'}-${spec.max ?? '∞'}`, node.valuePos);
  }
  return n;
}

/**
 * Typed values of the options in `specs`, with defaults applied. Nodes naming
 * other options are ignored (the caller decides who owns them); the last node
 * of a name wins.
 */
export function resolveOptions(specs: OptionSpecs, nodes: readonly OptionNode[], owner: string, pos?: Pos): { [name: string]: OptionValue | undefined } {
  const out: { [name: string]: OptionValue | undefined } = {};
  for (const [name, spec] of Object.entries(specs)) out[name] = spec.default;
  const given = new Set<string>();
  for (const node of nodes) {
    const spec = specs[node.name];
    if (!spec || !Object.hasOwn(specs, node.name)) continue;
    out[node.name] = convertOption(spec, node, owner);
    given.add(node.name);
  }
  for (const [name, spec] of Object.entries(specs)) {
    // A missing option has no place of its own: the error points at the plugin (or block) that needs it.
    if (spec.required && !given.has(name)) throw new ConfigError(`${owner} needs option "${name}" (${spec.description})`, pos);
  }
  return out;
}
