/**
 * One group's packet path: every input fills the (reused) record, every
 * output serializes it. Outputs do their I/O at endBatch, off this path.
 * A plugin that throws is counted and logged; the packet still reaches the others.
 */
import type { Logger } from 'pino';
import type { Counters } from './counters.js';
import type { Packet } from './packet.js';
import type { InputInstance, OutputInstance } from './plugin.js';
import { Record } from './record.js';
import type { PacketSink } from './source.js';

export interface Stage<T> {
  readonly name: string;
  readonly instance: T;
  readonly counters: Counters;
  readonly log: Logger;
}

export class Pipeline implements PacketSink {
  readonly record: Record;

  constructor(
    private readonly inputs: readonly Stage<InputInstance>[],
    private readonly outputs: readonly Stage<OutputInstance>[],
    slots: number,
  ) {
    this.record = new Record(slots);
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
    for (let i = 0; i < this.outputs.length; i++) {
      const s = this.outputs[i];
      s.counters.received++;
      try {
        s.instance.write(rec);
      } catch (err) {
        s.counters.dropped++;
        this.failed(s, err);
      }
    }
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

  private failed(s: Stage<unknown>, err: unknown): void {
    // Log the first error and then every 1000th, so a broken plugin cannot flood the log.
    if (s.counters.errors++ % 1000 === 0) {
      s.log.error({ err, errors: s.counters.errors }, `${s.name} failed on a packet`);
    }
  }
}
