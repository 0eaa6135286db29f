/**
 * The durability signal: outputs commit what they settled, oldest first; the
 * pipeline settles a record whose write() threw in its place, and tells the
 * source how many delivered records every output has settled.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseClassic } from '../../src/config/classic.js';
import { CommitQueue } from '../../src/core/commit-queue.js';
import { defineOutput, type OutputContext } from '../../src/core/plugin.js';
import { assembleTest } from '../output-harness.js';

describe('CommitQueue', () => {
  it('commits settlements in the order the records were accepted', () => {
    const commits: number[] = [];
    const q = new CommitQueue((n) => commits.push(n));
    const a = q.hold(2);
    const b = q.hold(3);
    const c = q.hold(1);
    q.settle(c);
    q.settle(b);
    assert.deepEqual(commits, [], 'nothing before the oldest is settled');
    assert.equal(q.held, 2);
    q.settle(a);
    assert.deepEqual(commits, [6]);
    q.settle(a);
    assert.deepEqual(commits, [6], 'a ticket settles once');
    assert.equal(q.held, 0);
  });

  it('commits records settled on arrival after those held before them', () => {
    const commits: number[] = [];
    const q = new CommitQueue((n) => commits.push(n));
    q.now(4);
    assert.deepEqual(commits, [4], 'nothing held: at once');
    const a = q.hold(10);
    q.now(1);
    q.now(2);
    const b = q.hold(5);
    assert.deepEqual(commits, [4]);
    q.settle(a);
    assert.deepEqual(commits, [4, 13]);
    q.settleAll();
    assert.deepEqual(commits, [4, 13, 5]);
    q.settle(b);
    assert.deepEqual(commits, [4, 13, 5]);
  });

  it('settles everything up to a ticket, and keeps working past many tickets', () => {
    let total = 0;
    const q = new CommitQueue((n) => {
      total += n;
    });
    const first = q.hold(1);
    const tickets = Array.from({ length: 3000 }, () => q.hold(1));
    for (const t of tickets.slice(0, 2000)) q.settle(t);
    assert.equal(total, 0);
    q.settleThrough(first);
    assert.equal(total, 2001);
    q.settleThrough(tickets[2499]);
    assert.equal(total, 2501);
    for (const t of tickets.slice(2500).reverse()) q.settle(t);
    assert.equal(total, 3001);
  });
});

/** An output that holds what it accepts until the test commits it. */
function holdingOutput(name: string, seen: OutputContext[], throwOn?: (n: number) => boolean) {
  return defineOutput({
    name,
    description: 'test output',
    options: {},
    create(ctx) {
      seen.push(ctx);
      let n = 0;
      return {
        write() {
          n++;
          if (throwOn?.(n)) throw new Error(`record ${n} refused`);
        },
        endBatch() {},
        async flush() {},
        async close() {},
      };
    },
  });
}

async function group(outputs: string[], plugins: ReturnType<typeof defineOutput>[]) {
  const model = parseClassic(`1 {\n${outputs.map((o) => ` plugin ${o}\n`).join('')}}\n`, 'commits.conf');
  return assembleTest(model.groups[0], plugins);
}

describe('pipeline commits', () => {
  it('is the number of records every output has settled, oldest first', async () => {
    const ctx: OutputContext[] = [];
    const { grp, pipeline } = await group(['A', 'B'], [holdingOutput('A', ctx), holdingOutput('B', ctx)]);
    const told: number[] = [];
    pipeline.onCommit((n) => told.push(n));
    for (let i = 0; i < 5; i++) pipeline.deliver();
    assert.equal(pipeline.delivered, 5);
    ctx[0].commit(3);
    assert.equal(pipeline.committed(), 0, 'B has settled nothing');
    ctx[1].commit(5);
    assert.equal(pipeline.committed(), 3);
    ctx[0].commit(2);
    assert.equal(pipeline.committed(), 5);
    assert.deepEqual(told, [3, 5]);
    assert.deepEqual(
      grp.outputs.map((s) => s.commits.settled),
      [5, 5],
    );
  });

  it('settles a record whose write() threw in its place: after the records before it', async () => {
    const ctx: OutputContext[] = [];
    const { grp, pipeline } = await group(['A'], [holdingOutput('A', ctx, (n) => n === 3 || n === 4)]);
    for (let i = 0; i < 6; i++) pipeline.deliver();
    const c = grp.outputs[0].counters;
    assert.deepEqual([c.received, c.dropped, c.errors], [6, 2, 2]);
    assert.equal(pipeline.committed(), 0, 'records 1 and 2 are still on their way');
    ctx[0].commit(1);
    assert.equal(pipeline.committed(), 1);
    ctx[0].commit(1);
    assert.equal(pipeline.committed(), 4, 'records 3 and 4 follow record 2');
    ctx[0].commit(2);
    assert.equal(pipeline.committed(), 6);
  });

  it('settles a refused record at once when nothing before it is open', async () => {
    const ctx: OutputContext[] = [];
    const { pipeline } = await group(['A'], [holdingOutput('A', ctx, (n) => n === 2)]);
    pipeline.deliver();
    ctx[0].commit(1);
    pipeline.deliver();
    assert.equal(pipeline.committed(), 2);
  });

  it('never commits more than the output accepted', async () => {
    const ctx: OutputContext[] = [];
    const { pipeline } = await group(['A'], [holdingOutput('A', ctx)]);
    pipeline.deliver();
    pipeline.deliver();
    ctx[0].commit(5);
    assert.equal(pipeline.committed(), 2);
    pipeline.deliver();
    ctx[0].commit(-1);
    ctx[0].commit(0.5);
    assert.equal(pipeline.committed(), 2);
    ctx[0].commit(1);
    assert.equal(pipeline.committed(), 3);
  });
});
