/**
 * Option types are inferred from a definition's option table: the build
 * (tsc) fails when a line marked @ts-expect-error stops being an error, so
 * these checks run at compile time; the test body checks the runtime shape.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineInput, defineOutput, type OutputContext } from '../../src/core/plugin.js';

const out = defineOutput({
  name: 'TYPED',
  description: 'option types for the compiler',
  options: {
    file: { type: 'string', default: '/tmp/x', description: 'always set: has a default' },
    host: { type: 'string', required: true, description: 'always set: required' },
    label: { type: 'string', description: 'may be unset' },
    limit: { type: 'size', default: 1024, description: 'a number' },
    port: { type: 'int', description: 'a number or unset' },
    sync: { type: 'bool', default: false, description: 'a boolean' },
    mode: { type: 'enum', values: ['fast', 'safe'], default: 'safe', description: 'one of the values' },
  },
  create(ctx) {
    const file: string = ctx.options.file;
    const host: string = ctx.options.host;
    const label: string | undefined = ctx.options.label;
    const limit: number = ctx.options.limit;
    const port: number | undefined = ctx.options.port;
    const sync: boolean = ctx.options.sync;
    const mode: 'fast' | 'safe' = ctx.options.mode;
    // @ts-expect-error an option without default or `required` may be undefined
    const bad: string = ctx.options.label;
    // @ts-expect-error an int is a number
    const bad2: string = ctx.options.limit;
    // @ts-expect-error an enum is one of its values
    const bad3: 'slow' = ctx.options.mode;
    // @ts-expect-error no such option
    void ctx.options.nosuch;
    void [file, host, label, limit, port, sync, mode, bad, bad2, bad3, anyContext(ctx)];
    return { write() {}, endBatch() {}, flush: async () => {}, close: async () => {} };
  },
});

const input = defineInput({
  name: 'TYPEDIN',
  description: 'option types of an input',
  options: { ports: { type: 'string', default: '21', description: 'ports' } },
  produces: [],
  create(ctx) {
    const ports: string = ctx.options.ports;
    void ports;
    return { process() {} };
  },
});

// A helper that takes any output's context still accepts a typed one.
function anyContext(ctx: OutputContext): string | number | boolean | undefined {
  return ctx.options.whatever;
}

test('defineOutput and defineInput keep the definition and add the kind', () => {
  assert.equal(out.kind, 'output');
  assert.equal(input.kind, 'input');
  assert.deepEqual(Object.keys(out.options), ['file', 'host', 'label', 'limit', 'port', 'sync', 'mode']);
  assert.equal(typeof anyContext, 'function');
});
