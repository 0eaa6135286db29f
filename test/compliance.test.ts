/**
 * The compliance check itself: the examples of doc/plugins.md, written to
 * files and loaded by path as a user's plugins are, pass it; outputs that
 * break a rule of the contract fail it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { defineOutput, type OutputDefinition } from '../src/core/plugin.js';
import { checkCompliance } from './compliance.js';
import { ROOT, tempDir } from './daemon.js';

const dir = tempDir('specter-compliance-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The ```js blocks of doc/plugins.md whose first line names a file (`// name.mjs`), written to `dir`. */
function docExamples(): { [file: string]: string } {
  const doc = fs.readFileSync(path.join(ROOT, 'doc', 'plugins.md'), 'utf8');
  const out: { [file: string]: string } = {};
  for (const m of doc.matchAll(/```js\n\/\/ ([\w-]+\.mjs)\n([\s\S]*?)```/g)) {
    out[m[1]] = path.join(dir, m[1]);
    fs.writeFileSync(out[m[1]], m[2]);
  }
  return out;
}

describe('doc/plugins.md examples', () => {
  const files = docExamples();

  it('are there', () => {
    assert.deepEqual(Object.keys(files).sort(), ['commit-queue.mjs', 'markclass.mjs', 'markfile.mjs', 'myout.mjs']);
  });

  it('the output passes the compliance check and writes every record', async () => {
    const out = path.join(dir, 'myout.log');
    const { flushed, closed } = await checkCompliance(files['myout.mjs'], { myfile: out }, { inputs: ['BASE', files['markclass.mjs']] });
    assert.equal(flushed.counters.sent, 300);
    assert.equal(closed!.counters.sent, 300);
    const lines = fs.readFileSync(out, 'utf8').split('\n').filter(Boolean);
    assert.equal(lines.length, 600);
    assert.ok(
      lines.every((l) => l === '127.0.0.1 P: '),
      lines[0],
    );
  });

  it('the input sets its key for the outputs that read it', async () => {
    const out = path.join(dir, 'classes.json');
    await checkCompliance(
      'JSON',
      { jsonfile: out, jsonfields: 'oob.mark,mark.class', jsonsync: true },
      {
        inputs: ['BASE', files['markclass.mjs']],
        records: 4,
        flushOnly: true,
      },
    );
    const objs = fs
      .readFileSync(out, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const o = JSON.parse(l);
        return o['mark.class'] === undefined ? { 'oob.mark': o['oob.mark'] } : { 'oob.mark': o['oob.mark'], 'mark.class': o['mark.class'] };
      });
    assert.deepEqual(objs, [{ 'oob.mark': 0 }, { 'oob.mark': 1, 'mark.class': 'web' }, { 'oob.mark': 2, 'mark.class': 'mail' }, { 'oob.mark': 3 }]);
  });

  it('the commit queue commits in order', async () => {
    const { CommitQueue } = await import(pathToFileURL(files['commit-queue.mjs']).href);
    const commits: number[] = [];
    const q = new CommitQueue((n: number) => commits.push(n));
    const a = q.hold(2);
    q.now(1);
    const b = q.hold(3);
    q.settle(b);
    assert.deepEqual(commits, []);
    q.settle(a);
    assert.deepEqual(commits, [6]);
    q.now(4);
    assert.deepEqual(commits, [6, 4]);
  });
});

/** An output that counts and commits as `broken` says, writing nothing. */
function brokenOutput(broken: 'no commit' | 'lost records' | 'commit early'): OutputDefinition {
  return defineOutput({
    name: 'BROKEN',
    description: 'breaks a rule',
    options: {},
    create(ctx) {
      let pending = 0;
      const flush = async () => {
        if (broken !== 'lost records') ctx.counters.sent += pending;
        if (broken !== 'no commit' && broken !== 'commit early') ctx.commit(pending);
        pending = 0;
      };
      return {
        write() {
          pending++;
          if (broken === 'commit early') ctx.commit(1);
        },
        endBatch() {},
        flush,
        close: flush,
      };
    },
  });
}

describe('the compliance check', () => {
  it('fails an output that never commits', async () => {
    await assert.rejects(checkCompliance('BROKEN', {}, { plugins: [brokenOutput('no commit')] }), /every record committed once flushed/);
  });

  it('fails an output whose records are neither sent nor dropped', async () => {
    await assert.rejects(checkCompliance('BROKEN', {}, { plugins: [brokenOutput('lost records')] }), /received = sent \+ dropped once flushed/);
  });

  it('fails counters that differ from what the test expects', async () => {
    await assert.rejects(checkCompliance('BROKEN', {}, { plugins: [brokenOutput('commit early')], expect: { errors: 1 } }), /counter errors/);
  });
});
