/**
 * The component contract (doc/plugins.md), checked on a real group: BASE
 * (and any other inputs) and one output, put together by assembleGroup as the
 * daemon does. Records are the captured kernel datagram of
 * test/fixtures/nflog/, each with its own mark (0, 1, 2, ...), decoded by the
 * codec and BASE, fed in batches with the event loop turning in between.
 *
 * Asserted, for a run that flushes and then closes and for a run that closes
 * at once (the shutdown deadline passed):
 * - received is the number of records fed;
 * - received = sent + dropped (+ spooled, for what a close() spools), once
 *   flushed and after close;
 * - every record is committed once flushed, and after close;
 * - the output's committed count never goes backwards and never exceeds what
 *   it received; the group's never exceeds what was delivered;
 * - close() returns within the shutdown grace (2 s);
 * - counters a test expects (errors as a count of failures, say) are exact.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { setImmediate as turn } from 'node:timers/promises';
import { Packet } from '../src/core/packet.js';
import type { OutputStage, Pipeline } from '../src/core/pipeline.js';
import type { OptionValue, PluginDefinition } from '../src/core/plugin.js';
import { decodeDatagram } from '../src/nflog/codec.js';
import { ROOT } from './daemon.js';
import { assembleTest, groupOf } from './output-harness.js';

const FIXTURE = fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'nflog', 'ipv4-icmp-echo-mark.bin'));
const CLOSE_GRACE_MS = 2000;

export interface ComplianceOptions {
  /** Records fed in each run (default 300). */
  records?: number;
  /** Records per batch (default 25). */
  batch?: number;
  /** Inputs before the output (default BASE). */
  inputs?: readonly string[];
  /** Definitions found by name before built-ins and module paths. */
  plugins?: readonly PluginDefinition[];
  /** How long flush() may take (default 20 s). */
  flushMs?: number;
  /** Counters the flushing run (or the only run) must end with, exactly. */
  expect?: { readonly [counter: string]: number };
  /** Leave out the run that closes without flushing. */
  flushOnly?: boolean;
  /** Only the run that closes without flushing (an output whose destination is away spools at close). */
  closeOnly?: boolean;
}

export interface ComplianceRun {
  /** Counters after close. */
  counters: { [name: string]: number };
  /** Every value the group's committed count took, in order. */
  commits: number[];
}

/** Runs the output through both runs; returns what each ended with. */
export async function checkCompliance(output: string, options: { readonly [name: string]: OptionValue }, opts: ComplianceOptions = {}) {
  const flushed = opts.closeOnly ? null : await run(output, options, opts, true);
  const closed = opts.flushOnly ? null : await run(output, options, opts, false);
  const checked = (flushed ?? closed)!;
  for (const [name, n] of Object.entries(opts.expect ?? {})) {
    assert.equal(checked.counters[name] ?? 0, n, `${output}: counter ${name} (${JSON.stringify(checked.counters)})`);
  }
  return { flushed: flushed!, closed };
}

async function run(output: string, options: { readonly [name: string]: OptionValue }, opts: ComplianceOptions, flush: boolean): Promise<ComplianceRun> {
  const records = opts.records ?? 300;
  const batch = opts.batch ?? 25;
  const { grp, pipeline } = await assembleTest(groupOf(opts.inputs ?? ['BASE'], output, options), opts.plugins);
  const stage = grp.outputs[0];
  const name = `${stage.name} (${flush ? 'flush, then close' : 'close at once'})`;
  const c = stage.counters;

  // Watch the output's and the group's committed counts at every change.
  let settled = 0;
  const recount = stage.commits.changed;
  stage.commits.changed = () => {
    const now = stage.commits.settled;
    assert.ok(now >= settled, `${name}: committed went back from ${settled} to ${now}`);
    assert.ok(now <= c.received, `${name}: committed ${now} of ${c.received} received`);
    settled = now;
    recount();
  };
  const commits: number[] = [];
  pipeline.onCommit((n) => {
    assert.ok(n <= pipeline.delivered, `${name}: group committed ${n} of ${pipeline.delivered} delivered`);
    commits.push(n);
  });

  for (const st of grp.inputs) await st.instance.start?.();
  await stage.instance.start?.();
  let closed = false;
  try {
    await stage.instance.ready?.();
    const counters = await feed(name, stage, pipeline, records, batch, flush, opts.flushMs ?? 20000);
    closed = true;
    for (const st of grp.inputs) await st.instance.close?.();
    return { counters, commits };
  } finally {
    // A failed check still releases what the output holds (timers, sockets), so the test ends.
    if (!closed) await stage.instance.close().catch(() => undefined);
  }
}

/** Feeds the records, flushes (or not), closes, and checks the counters and commits on the way. */
async function feed(name: string, stage: OutputStage, pipeline: Pipeline, records: number, batch: number, flush: boolean, flushMs: number) {
  const c = stage.counters;

  const pkt = new Packet();
  const stats = { packets: 0, malformed: 0 };
  for (let i = 0; i < records; i++) {
    decodeDatagram(
      FIXTURE,
      pkt,
      (p) => {
        p.mark = i;
        pipeline.packet(p);
      },
      stats,
    );
    if ((i + 1) % batch === 0 || i === records - 1) {
      pipeline.endBatch();
      await turn();
    }
  }
  assert.equal(stats.packets, records);
  assert.equal(c.received, records, `${name}: received`);

  const balanced = (when: string) => {
    const spooled = c.extra.spooled ?? 0;
    assert.equal(
      c.sent + c.dropped + spooled,
      c.received,
      `${name}: received = sent + dropped${spooled ? ' + spooled' : ''} ${when} (${JSON.stringify(c.snapshot())})`,
    );
    assert.equal(stage.commits.settled, records, `${name}: every record committed ${when} (${JSON.stringify(c.snapshot())})`);
    assert.equal(pipeline.committed(), records, `${name}: the group committed every record ${when}`);
  };

  if (flush) {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(resolve, flushMs, 'late');
    });
    const done = await Promise.race([stage.instance.flush().then(() => 'done' as const), late]);
    clearTimeout(timer);
    assert.equal(done, 'done', `${name}: flush() did not end within ${flushMs} ms (${JSON.stringify(c.snapshot())})`);
    assert.equal(c.extra.spooled ?? 0, 0, `${name}: nothing is spooled before close()`);
    balanced('once flushed');
  }

  const t0 = Date.now();
  await stage.instance.close();
  const took = Date.now() - t0;
  assert.ok(took < CLOSE_GRACE_MS, `${name}: close() took ${took} ms`);
  balanced('after close');
  for (const k of ['sent', 'dropped', 'errors']) {
    const v = c.snapshot()[k];
    assert.ok(Number.isInteger(v) && v >= 0, `${name}: ${k} is a count (${v})`);
  }
  return c.snapshot();
}
