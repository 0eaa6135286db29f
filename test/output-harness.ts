/**
 * Test helper for output plugins: the BASE and LOCAL keys registered, the
 * plugin created with the given options, and records built from plain objects.
 */
import pino from 'pino';
import BASE from '../plugins/input/BASE/index.js';
import LOCAL from '../plugins/input/LOCAL/index.js';
import { ConfigError } from '../src/config/model.js';
import { Counters } from '../src/core/counters.js';
import { KeyRegistry, type Key } from '../src/core/keys.js';
import type { OptionValue, OutputDefinition, OutputInstance } from '../src/core/plugin.js';
import { Record } from '../src/core/record.js';

export async function outputHarness(def: OutputDefinition, options: { [name: string]: OptionValue }) {
  const keys = new KeyRegistry();
  for (const k of [...BASE.produces, ...LOCAL.produces]) keys.register(k);
  const opts: { [k: string]: OptionValue | undefined } = {};
  for (const [n, spec] of Object.entries(def.options)) opts[n] = spec.default;
  Object.assign(opts, options);
  const counters = new Counters();
  const fail = (m: string, option?: string): never => {
    throw new ConfigError(option ? `${def.name} option "${option}": ${m}` : `plugin ${def.name}: ${m}`);
  };
  for (const [n, spec] of Object.entries(def.options)) if (spec.required && opts[n] === undefined) fail(`needs option "${n}"`);
  const inst: OutputInstance = await def.create({
    name: def.name,
    group: 1,
    options: opts,
    log: pino({ level: 'silent' }),
    counters,
    checkOnly: false,
    fail,
    key: (n: string): Key => keys.get(n) ?? fail(`reads key "${n}", which no input produces`),
    optionalKey: (n: string) => keys.get(n),
    allKeys: () => keys.all(),
    producedKeys: () => keys.all(),
  });
  await inst.start?.();
  const rec = new Record(keys.size);
  return {
    counters,
    instance: inst,
    /** One packet from field values by key name; then the batch ends. */
    packet(fields: { [name: string]: unknown }) {
      rec.clear();
      for (const [n, v] of Object.entries(fields)) rec.set(keys.get(n)!, v);
      counters.received++;
      inst.write(rec);
      inst.endBatch();
    },
    flush: () => inst.flush(),
  };
}
