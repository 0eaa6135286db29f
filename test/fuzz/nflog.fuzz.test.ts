/**
 * Fuzz test of the packet path: a million mutated nfnetlink_log datagrams
 * (from the captured ones and from IPv4/IPv6/ARP packets built here) through
 * the codec, BASE with every key wanted, PWSNIFF, the kernel LOG line and the
 * JSON encoder, with a fixed seed. No case may throw, break an invariant
 * (nflog-stages.ts) or hang. SPECTER_FUZZ_CASES and SPECTER_FUZZ_SEED run
 * other cases. Each kind of failure is shown once, with its case number and
 * input; nflog-regressions.test.ts keeps the inputs found so far.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import type { FuzzRequest, FuzzResult } from './nflog-worker.js';

const CASES = Number(process.env.SPECTER_FUZZ_CASES ?? 1_000_000);
const SEED = Number(process.env.SPECTER_FUZZ_SEED ?? 0x5eed2026);
/** A case running this long is a hang: the worker is stopped and the case named. */
const HANG_MS = 5000;
/** The slowest case, timed on its own, may take this long. */
const SLOWEST_MS = 20;

function runWorker(req: Omit<FuzzRequest, 'progress'>): Promise<FuzzResult> {
  const progress = new SharedArrayBuffer(4);
  const current = new Int32Array(progress);
  const worker = new Worker(new URL('./nflog-worker.js', import.meta.url), { workerData: { ...req, progress } });
  return new Promise((resolve, reject) => {
    let last = -1;
    let since = Date.now();
    const watch = setInterval(() => {
      const now = Atomics.load(current, 0);
      if (now !== last) {
        last = now;
        since = Date.now();
      } else if (Date.now() - since > HANG_MS) {
        clearInterval(watch);
        void worker.terminate();
        reject(new Error(`case ${now} (seed ${req.seed}) still running after ${HANG_MS} ms: a hang`));
      }
    }, 250);
    worker.once('message', (r: FuzzResult) => {
      clearInterval(watch);
      resolve(r);
    });
    worker.once('error', (err) => {
      clearInterval(watch);
      reject(err);
    });
  });
}

describe('nfnetlink_log fuzz', () => {
  it(`${CASES} mutated datagrams through codec, BASE, PWSNIFF, kernel line and JSON`, { timeout: 30 * 60_000 }, async (t) => {
    const r = await runWorker({ fuzz: 'nflog', seed: SEED, cases: CASES });
    t.diagnostic(
      `${r.cases} cases (${r.sweepCases} cuts of every seed at every length), ${r.packets} packets decoded, ` +
        `${(r.ms / 1000).toFixed(1)} s, ${((r.ms * 1000) / r.cases).toFixed(1)} µs a case, slowest case ${r.slowestCase} ${(r.slowestUs / 1000).toFixed(2)} ms on its own ` +
        `(${(r.firstPassUs / 1000).toFixed(1)} ms at worst during the run, pauses included)`,
    );
    assert.equal(
      r.failures,
      0,
      `${r.failures} failing cases; kinds:\n${r.distinct.join('\n')}\nfirst:\n` +
        r.first.map((f) => `case ${f.index}: ${f.error}\n  input ${f.input}`).join('\n'),
    );
    assert.ok(r.packets > r.cases / 2, 'most cases reach BASE');
    assert.ok(r.slowestUs < SLOWEST_MS * 1000, `case ${r.slowestCase} took ${(r.slowestUs / 1000).toFixed(1)} ms`);
  });
});
