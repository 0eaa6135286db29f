/**
 * One group's packet path: every input fills the (reused) record, every
 * output serializes it. Outputs do their I/O at endBatch, off this path.
 * A plugin that throws is counted and logged; the packet still reaches the others.
 *
 * The group's durability signal: committed() is how many of the records
 * delivered, oldest first, every output has settled (written, sent, or
 * counted as dropped). A source that can acknowledge (a collector) waits on
 * it with onCommit(); the NFLOG source ignores it.
 */
import type { Logger } from 'pino';
import type { Counters } from './counters.js';
import type { Packet } from './packet.js';
import type { OutputCommits } from './output-commits.js';
import type { InputInstance, OutputInstance } from './plugin.js';
import { Record } from './record.js';
import type { RecordSink } from './source.js';

export interface Stage<T> {
  readonly name: string;
  readonly instance: T;
  readonly counters: Counters;
  readonly log: Logger;
}

export interface OutputStage extends Stage<OutputInstance> {
  /** What the output has settled of the records delivered to it. */
  readonly commits: OutputCommits;
}

export class Pipeline implements RecordSink {
  readonly record: Record;
  /** Records handed to the outputs so far. */
  delivered = 0;
  private committedCount = 0;
  private readonly listeners: Array<(committed: number) => void> = [];

  constructor(
    private readonly inputs: readonly Stage<InputInstance>[],
    private readonly outputs: readonly OutputStage[],
    slots: number,
  ) {
    this.record = new Record(slots);
    for (const s of outputs) s.commits.changed = () => this.recount();
  }

  packet(pkt: Packet): void {
    const rec = this.record;
    rec.clear();
    for (let i = 0; i < this.inputs.length; i++) {
      const s = this.inputs[i];
      s.counters.received++;
      try {
        s.instance.process(pkt, rec);
        s.counters.sent++;
      } catch (err) {
        this.failed(s, err);
      }
    }
    this.deliver();
  }

  /**
   * Hands the record, as filled, to every output. packet() calls it after the
   * inputs; a source that rebuilds records itself fills `record` and calls it.
   */
  deliver(): void {
    const rec = this.record;
    this.delivered++;
    for (let i = 0; i < this.outputs.length; i++) {
      const s = this.outputs[i];
      s.counters.received++;
      try {
        s.instance.write(rec);
      } catch (err) {
        s.counters.dropped++;
        s.commits.settleInPlace();
        this.failed(s, err);
      }
    }
  }

  /** Records delivered, oldest first, that every output has settled. */
  committed(): number {
    return this.committedCount;
  }

  /** Calls `fn` with committed() each time it grows. */
  onCommit(fn: (committed: number) => void): void {
    this.listeners.push(fn);
  }

  endBatch(): void {
    for (let i = 0; i < this.outputs.length; i++) {
      const s = this.outputs[i];
      try {
        s.instance.endBatch();
      } catch (err) {
        this.failed(s, err);
      }
    }
  }

  busy(): boolean {
    for (let i = 0; i < this.outputs.length; i++) if (this.outputs[i].instance.busy?.()) return true;
    return false;
  }

  private recount(): void {
    let min = Infinity;
    for (let i = 0; i < this.outputs.length; i++) min = Math.min(min, this.outputs[i].commits.settled);
    if (min <= this.committedCount || min === Infinity) return;
    this.committedCount = min;
    for (let i = 0; i < this.listeners.length; i++) this.listeners[i](min);
  }

  private failed(s: Stage<unknown>, err: unknown): void {
    // Log the first error and then every 1000th, so a broken plugin cannot flood the log.
    if (s.counters.errors++ % 1000 === 0) {
      s.log.error({ err, errors: s.counters.errors }, `${s.name} failed on a packet`);
    }
  }
}
