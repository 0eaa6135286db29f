/**
 * A source produces packets for one group's pipeline. NFLOG is the first;
 * others (pcap replay, a collector of remote sensors) implement the same shape.
 */
import type { Counters } from './counters.js';
import type { Packet } from './packet.js';
import type { Record } from './record.js';

export interface PacketSink {
  /** One packet; the Packet object is reused after this returns. */
  packet(pkt: Packet): void;
  /** The end of one batch (one netlink datagram, one read): outputs start their I/O now. */
  endBatch(): void;
  /** True while some output asks the source to stop reading for a while. */
  busy(): boolean;
  /**
   * Packets delivered, oldest first, that every output has settled (durably
   * written, sent, or counted as dropped). A source that can acknowledge what
   * it delivered (a collector) acknowledges up to this count; NFLOG ignores it.
   */
  committed(): number;
  /** Calls `fn` with committed() each time it grows. */
  onCommit(fn: (committed: number) => void): void;
}

/** What a source that rebuilds whole records (a collector) delivers to. */
export interface RecordSink extends PacketSink {
  /** The group's reused record: clear it, fill it, then deliver(). */
  readonly record: Record;
  /** Hands `record`, as filled, to every output (no input plugin runs). */
  deliver(): void;
}

export interface Source {
  /** For logs and counters, e.g. "NFLOG group 1". */
  readonly name: string;
  readonly counters: Counters;
  /** Opens the source and starts delivering; rejects with a clear message when it cannot. */
  start(sink: PacketSink): Promise<void>;
  /** Stops delivering, after handing on what is already on its way for at most `maxMs`. */
  stop(maxMs?: number): Promise<void>;
}
