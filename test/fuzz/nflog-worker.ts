/**
 * The fuzz loop, run in a worker thread so that the test can stop a case
 * that hangs: the worker publishes the number of the case it is on, and the
 * test terminates it when that number stops moving. Failures are collected
 * (the first few with their input) and the loop goes on.
 */
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { CaseMaker } from './nflog-mutate.js';
import { capturedDatagrams, capturedTemplate, templates } from './nflog-seeds.js';
import { InvariantError, Stages } from './nflog-stages.js';

export interface FuzzRequest {
  fuzz: 'nflog';
  seed: number;
  cases: number;
  /** Int32Array[0]: the case being run. */
  progress: SharedArrayBuffer;
}

export interface FuzzFailure {
  index: number;
  error: string;
  input: string; // hex
}

export interface FuzzResult {
  cases: number;
  sweepCases: number;
  packets: number;
  ms: number;
  /** The slowest time of a case during the run. */
  firstPassUs: number;
  /** The slowest case's own time: the worst of the slowest cases of the run, each timed again five times at best. */
  slowestUs: number;
  slowestCase: number;
  failures: number;
  /** The first failure of each kind. */
  first: FuzzFailure[];
  distinct: string[];
}

const SLOW_KEPT = 16;

export function fuzz(req: FuzzRequest): FuzzResult {
  const progress = new Int32Array(req.progress);
  const captured = capturedDatagrams();
  const maker = new CaseMaker(req.seed, [...templates(), ...captured.map((c, i) => capturedTemplate(`captured ${i}`, c))], captured);
  const stages = new Stages();
  const first: FuzzFailure[] = [];
  const distinct = new Set<string>();
  let failures = 0;
  // The slowest cases of the run, timed again afterwards on their own (free of GC pauses and a busy machine).
  const slow: Array<{ index: number; us: number }> = [];
  const t0 = performance.now();
  for (let i = 0; i < req.cases; i++) {
    Atomics.store(progress, 0, i);
    const input = maker.make(i);
    const start = performance.now();
    try {
      stages.run(input, (i & 7) === 0);
    } catch (err) {
      failures++;
      const msg = err instanceof Error ? err.message : String(err);
      // Failures are grouped by their message without the values in it; the first of each kind is kept whole.
      const kind = msg.replace(/[:(].*$/s, '');
      if (!distinct.has(kind) && distinct.size < 20) {
        distinct.add(kind);
        const text = err instanceof InvariantError ? msg : err instanceof Error ? (err.stack ?? msg) : msg;
        first.push({ index: i, error: text, input: input.toString('hex') });
      }
    }
    const us = (performance.now() - start) * 1000;
    if (slow.length < SLOW_KEPT || us > slow[slow.length - 1].us) {
      slow.push({ index: i, us });
      slow.sort((a, b) => b.us - a.us);
      if (slow.length > SLOW_KEPT) slow.pop();
    }
  }
  const ms = performance.now() - t0;
  let slowestUs = 0;
  let slowestCase = -1;
  for (const { index } of slow) {
    const input = maker.make(index);
    let best = Infinity;
    for (let k = 0; k < 5; k++) {
      const start = performance.now();
      try {
        stages.run(input, true);
      } catch {
        /* counted above */
      }
      best = Math.min(best, (performance.now() - start) * 1000);
    }
    if (best > slowestUs) {
      slowestUs = best;
      slowestCase = index;
    }
  }
  return {
    cases: req.cases,
    sweepCases: maker.sweepCases,
    packets: stages.packets,
    ms,
    firstPassUs: slow.length ? slow[0].us : 0,
    slowestUs,
    slowestCase,
    failures,
    first,
    distinct: [...distinct],
  };
}

// This module is also found by `node --test` as a file of its own: it runs the loop only as the test's worker.
if (!isMainThread && (workerData as FuzzRequest | undefined)?.fuzz === 'nflog') {
  parentPort!.postMessage(fuzz(workerData as FuzzRequest));
}
