/**
 * Sustained capacity (`npm run bench -- --capacity`): for each output, specter
 * and ulogd2 take turns at paced rates in rising steps, each step long enough
 * to fill the receive buffer many times over, so a consumer slower than the
 * rate loses packets however large its buffer. A consumer's capacity is the
 * highest step it kept with 0 loss; it runs no higher step after its first loss.
 */
import type { NetNs } from '../test/netns.js';
import type { Consumer } from './consumers.js';
import { runOne, type Row } from './run.js';

/** A step the generator could not offer within this share of its pace says nothing about the consumer. */
const PACE_TOLERANCE = 0.97;

export interface Capacity {
  output: string;
  /** Per daemon: the highest step kept with 0 loss (0: none), and the first step that lost packets. */
  kept: Map<string, number>;
  failed: Map<string, Row | undefined>;
  rows: Row[];
  /** A step the generator fell short of, which ended this output's steps. */
  generatorShort?: Row;
}

export async function capacity(ns: NetNs, gen: string, list: Consumer[], steps: number[], seconds: number, log: (line: string) => void): Promise<Capacity[]> {
  const outputs = [...new Set(list.filter((c) => c.daemon !== 'tcpdump').map((c) => c.output))];
  const results: Capacity[] = [];
  for (const output of outputs) {
    const pair = list.filter((c) => c.output === output && c.daemon !== 'tcpdump');
    const r: Capacity = { output, kept: new Map(pair.map((c) => [c.daemon, 0])), failed: new Map(), rows: [] };
    results.push(r);
    const running = new Set(pair);
    for (const step of steps) {
      if (!running.size || r.generatorShort) break;
      for (const c of pair) {
        if (!running.has(c)) continue;
        const packets = Math.round(step * seconds);
        let row: Row;
        try {
          row = await runOne(ns, gen, c, packets, step);
        } catch (err) {
          log(`${c.name} at ${step} pps failed: ${(err as Error).message}`);
          running.delete(c);
          continue;
        }
        r.rows.push(row);
        log(
          `${c.name} at ${step / 1000}k pps for ${seconds} s: ${(row.loss * 100).toFixed(2)} % loss, ${row.usPerPkt.toFixed(2)} µs/packet, offered ${Math.round(row.offeredPps).toLocaleString('en')} pps`,
        );
        if (row.written < row.logged) {
          // Loss at a lower pace than the step's is loss all the same.
          r.failed.set(c.daemon, row);
          running.delete(c);
        } else if (row.offeredPps < step * PACE_TOLERANCE) {
          r.generatorShort = row;
          break;
        } else {
          r.kept.set(c.daemon, step);
        }
      }
    }
  }
  return results;
}

const k = (pps: number) => `${pps / 1000}k`;
const lossText = (row: Row | undefined) => (row ? `${(row.loss * 100).toFixed(row.loss < 0.001 ? 3 : 1)} %` : '');

/** The summary (capacity per output and daemon) and each step's loss and CPU per packet side by side. */
export function capacityTables(results: Capacity[]): string {
  const out: string[] = [];
  out.push('| output | specter: highest rate with 0 loss | specter: first loss | ulogd2: highest rate with 0 loss | ulogd2: first loss |');
  out.push('|---|---:|---|---:|---|');
  for (const r of results) {
    const cell = (d: string) => {
      const kept = r.kept.get(d);
      const failed = r.failed.get(d);
      const top = kept === undefined ? '—' : kept ? `${k(kept)} pps` : `under ${k(r.rows[0]?.pace ?? 0)} pps`;
      const first = failed ? `${lossText(failed)} at ${k(failed.pace)} pps` : kept !== undefined ? 'none up to the last step' : '';
      const more = !failed && kept !== undefined && r.generatorShort;
      return `${top}${more ? ' (or more)' : ''} | ${more ? 'none up to where the generator fell short' : first}`;
    };
    out.push(`| ${r.output} | ${cell('specter')} | ${cell('ulogd2')} |`);
  }
  const short = results.filter((r) => r.generatorShort);
  for (const r of short)
    out.push(
      `\n${r.output}: the generator offered only ${Math.round(r.generatorShort!.offeredPps).toLocaleString('en')} of ${r.generatorShort!.pace.toLocaleString('en')} pps, which ended the steps.`,
    );
  out.push('\n| output | rate | specter loss | specter CPU µs/packet | ulogd2 loss | ulogd2 CPU µs/packet | CPU ratio |');
  out.push('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    for (const pace of [...new Set(r.rows.map((x) => x.pace))]) {
      const s = r.rows.find((x) => x.pace === pace && x.consumer.startsWith('specter'));
      const u = r.rows.find((x) => x.pace === pace && x.consumer.startsWith('ulogd2'));
      const us = (x?: Row) => (x ? x.usPerPkt.toFixed(2) : '—');
      const ratio = s && u ? `${(s.usPerPkt / u.usPerPkt).toFixed(2)}×` : '—';
      out.push(`| ${r.output} | ${k(pace)} pps | ${s ? lossText(s) : '—'} | ${us(s)} | ${u ? lossText(u) : '—'} | ${us(u)} | ${ratio} |`);
    }
  }
  return out.join('\n');
}
