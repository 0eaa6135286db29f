/** ErrorReporter: one line when a streak starts, then at most one per interval with the count, one when it ends. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { Backoff } from '../../src/core/backoff.js';
import { ErrorReporter } from '../../src/core/error-reporter.js';

function captured() {
  const lines: { level: number; msg: string; failures?: number }[] = [];
  return {
    lines,
    log: pino(
      { level: 'info' },
      {
        write: (s: string) => {
          lines.push(JSON.parse(s));
        },
      },
    ),
  };
}

test('a streak of 100 000 failures writes one line, and one more when it ends', () => {
  const { lines, log } = captured();
  const r = new ErrorReporter(log);
  let logged = 0;
  for (let i = 0; i < 100_000; i++) if (r.failure('peer away')) logged++;
  assert.equal(logged, 1);
  assert.equal(r.count, 100_000);
  r.recovered('peer back');
  assert.deepEqual(
    lines.map((l) => l.msg),
    ['peer away', 'peer back (after 100000 failures)'],
  );
  assert.equal(lines[0].level, 50);
  assert.equal(lines[1].failures, 100_000);
  assert.equal(r.failing, false);
  r.recovered('peer back');
  assert.equal(lines.length, 2, 'no line without a failure');
});

test('after the interval the next failure is logged with how many came since', async () => {
  const { lines, log } = captured();
  const r = new ErrorReporter(log, { intervalMs: 50, level: 'warn' });
  for (let i = 0; i < 10; i++) r.failure('full');
  await new Promise((res) => setTimeout(res, 60));
  assert.equal(r.failure('full'), true);
  r.failure('full');
  assert.deepEqual(
    lines.map((l) => l.msg),
    ['full', 'full (10 times since the last report, 11 in all)'],
  );
  assert.ok(lines.every((l) => l.level === 40));
  assert.equal(lines[1].failures, 11);
});

test('back-off doubles from min to max and starts over after reset', () => {
  const b = new Backoff(100, 1000);
  assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()], [100, 200, 400, 800, 1000, 1000]);
  b.reset();
  assert.equal(b.next(), 100);
});

test('fields given with a failure or a recovery go into its line', () => {
  const lines: { msg: string; file?: string; code?: string; failures?: number }[] = [];
  const log = pino(
    { level: 'info' },
    {
      write: (s: string) => {
        lines.push(JSON.parse(s));
      },
    },
  );
  const r = new ErrorReporter(log);
  r.failure('cannot write out.txt', { file: 'out.txt', code: 'ENOSPC' });
  r.recovered('out.txt works again', { file: 'out.txt' });
  assert.deepEqual(
    lines.map(({ msg, file, code, failures }) => ({ msg, file, code, failures })),
    [
      { msg: 'cannot write out.txt', file: 'out.txt', code: 'ENOSPC', failures: undefined },
      { msg: 'out.txt works again (after 1 failure)', file: 'out.txt', code: undefined, failures: 1 },
    ],
  );
});

test('a message given as a function is built only for the lines written', () => {
  const { lines, log } = captured();
  const r = new ErrorReporter(log, { level: 'warn' });
  let built = 0;
  const line = () => `dropped ${++built}`;
  for (let i = 0; i < 1000; i++) r.failure(line);
  assert.equal(built, 1);
  assert.deepEqual(
    lines.map((l) => l.msg),
    ['dropped 1'],
  );
});
