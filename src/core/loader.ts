/**
 * Finds plugin definitions by the name written in the config: a built-in
 * name (LOGEMU), the classic shared-object path (/lib/specter/specter_LOGEMU.so
 * means the built-in LOGEMU, so old configs run unchanged), or a path to a
 * JavaScript module that exports a definition (a third-party plugin).
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, type Pos } from '../config/model.js';
import type { KeyDef } from './keys.js';
import type { PluginDefinition, SourceDefinition } from './plugin.js';

/** The built-in plugins and sources by name; each entry loads its module on first use. */
export interface Builtins {
  readonly plugins: { readonly [name: string]: () => Promise<{ default: PluginDefinition }> };
  readonly sources: { readonly [name: string]: () => Promise<{ default: SourceDefinition }> };
}

// The core imports no plugin: the entry point (bin/specter.ts) hands the built-ins over.
let builtins: Builtins['plugins'] = {};
let builtinSources: Builtins['sources'] = {};

/** Makes the built-ins known by name; called once by the entry point, before any configuration is read. */
export function registerBuiltins(b: Builtins): void {
  builtins = b.plugins;
  builtinSources = b.sources;
}

const CLASSIC_SO = /(?:^|\/)(?:specter|ulogd)_(?:inp|inpflow|output|raw2packet|filter)?_?([A-Za-z0-9]+)\.so$/;

function builtinNames(): string[] {
  return Object.keys(builtins);
}

/** The built-in name a spec refers to, or null when it is a module path. */
function builtinFor(spec: string): string | null {
  const so = CLASSIC_SO.exec(spec);
  const name = (so ? so[1] : spec).toUpperCase();
  if (Object.hasOwn(builtins, name)) return name;
  if (so || !isModulePath(spec)) return '';
  return null;
}

function isModulePath(spec: string): boolean {
  return spec.includes('/') || /\.(c|m)?js$/.test(spec);
}

const cache = new Map<string, Promise<PluginDefinition>>();

export async function loadPlugin(spec: string, pos: Pos, configDir: string): Promise<PluginDefinition> {
  const builtin = builtinFor(spec);
  if (builtin === '') {
    throw new ConfigError(`unknown plugin "${spec}": expected a built-in (${builtinNames().join(', ')}) or a path to a JavaScript module`, pos);
  }
  const key = builtin ?? path.resolve(configDir, spec);
  let p = cache.get(key);
  if (!p) {
    p = builtin ? builtins[builtin]().then((m) => m.default) : importModule(key, spec, pos);
    cache.set(key, p);
  }
  return p;
}

/**
 * The source a block names with `source NAME`: a built-in source (NATS) or a
 * path to a JavaScript module exporting a definition of kind "source".
 * NFLOG, the kernel group, is the default and has no definition here.
 */
export async function loadSource(spec: string, pos: Pos, configDir: string): Promise<SourceDefinition | null> {
  const name = spec.toUpperCase();
  if (name === 'NFLOG') return null;
  if (Object.hasOwn(builtinSources, name)) return (await builtinSources[name]()).default;
  if (!isModulePath(spec)) {
    throw new ConfigError(
      `unknown source "${spec}": expected NFLOG${Object.keys(builtinSources)
        .map((n) => `, ${n}`)
        .join('')} or a path to a JavaScript module`,
      pos,
    );
  }
  const def = (await importModule(path.resolve(configDir, spec), spec, pos)) as unknown as SourceDefinition;
  if (def.kind !== 'source') throw new ConfigError(`module "${spec}" is a plugin of kind "${def.kind}", not a source`, pos);
  return def;
}

/** Every key the built-in input plugins produce: what records built on a sensor may carry. */
export async function builtinInputKeys(): Promise<KeyDef[]> {
  const out: KeyDef[] = [];
  for (const load of Object.values(builtins)) {
    const def = (await load()).default;
    if (def.kind === 'input') out.push(...def.produces);
  }
  return out;
}

async function importModule(file: string, spec: string, pos: Pos): Promise<PluginDefinition> {
  let mod: { default?: unknown };
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (err) {
    throw new ConfigError(`cannot load plugin module "${spec}": ${(err as Error).message.split('\n')[0]}`, pos);
  }
  const def = (mod.default ?? mod) as Partial<PluginDefinition>;
  const problem = shapeProblem(def);
  if (problem) throw new ConfigError(`plugin module "${spec}" ${problem}`, pos);
  return def as PluginDefinition;
}

function shapeProblem(def: Partial<PluginDefinition>): string | null {
  if (typeof def !== 'object' || def === null) return 'exports no plugin definition';
  const kind = (def as { kind?: string }).kind;
  if (kind !== 'input' && kind !== 'output' && kind !== 'source') return 'must export kind "input", "output" or "source"';
  if (typeof def.name !== 'string' || !def.name) return 'must export a name';
  if (typeof def.create !== 'function') return 'must export a create(ctx) function';
  if (def.options !== undefined && (typeof def.options !== 'object' || def.options === null)) return 'has an invalid options table';
  if ((kind === 'input' || kind === 'source') && !Array.isArray((def as { produces?: unknown }).produces))
    return `is ${kind === 'input' ? 'an input' : 'a source'} but lists no produced keys ("produces")`;
  return null;
}
