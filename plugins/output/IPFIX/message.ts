/**
 * Packs data records into IPFIX messages no longer than a limit (the path
 * MTU less the IP and transport headers): records of one template share a
 * set; a record that does not fit closes the message and opens the next.
 * One buffer is reused; a finished message is copied out once.
 *
 * The export time and sequence number are left zero: the transport stamps
 * them as the message leaves, because only then is its place in the stream
 * (a new TCP connection starts counting again) known.
 */
import { MESSAGE_HEADER, SET_HEADER } from './template.js';

export interface Message {
  readonly data: Buffer;
  /** Data records in the message (what the sequence number counts). */
  readonly records: number;
  /** Records left out (no IP flow) while the message was open: settled when it is. */
  readonly skipped: number;
}

export class MessageBuilder {
  readonly buf: Buffer;
  /** `buf` for DataView's stores. */
  readonly view: DataView;
  /** Bytes of the open message; 0 when none is open. */
  private len = 0;
  private setStart = 0;
  private setId = 0;
  private records = 0;
  private skipped = 0;
  private finished: Message[] = [];
  /** performance.now() when the open message took its first record. */
  openedAt = 0;

  constructor(
    private maxLen: number,
    private readonly domain: number,
  ) {
    this.buf = Buffer.alloc(maxLen);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  }

  /** Lowers the limit; an open message already longer leaves as it is. */
  lower(maxLen: number): void {
    if (maxLen >= this.maxLen) return;
    this.maxLen = maxLen;
    if (this.len > maxLen) this.finish();
  }

  /** Whether a message is open (records or left-out records wait in it). */
  get open(): boolean {
    return this.len > 0;
  }

  /** Makes room for one data record of template `id`, `length` bytes long; returns where to write it in `buf`. */
  reserve(id: number, length: number): number {
    if (this.len > 0 && this.len + length + (this.setId === id ? 0 : SET_HEADER) > this.maxLen) this.finish();
    if (this.len === 0) {
      this.len = MESSAGE_HEADER;
      this.setId = 0;
      this.openedAt = performance.now();
    }
    if (this.setId !== id) {
      this.closeSet();
      this.setStart = this.len;
      this.setId = id;
      this.buf.writeUInt16BE(id, this.len);
      this.len += SET_HEADER;
    }
    const at = this.len;
    this.len += length;
    this.records++;
    return at;
  }

  /**
   * A record left out: it settles with the open message, after the records
   * before it. False when no message is open (nothing is pending before it).
   */
  skip(): boolean {
    if (this.len === 0) return false;
    this.skipped++;
    return true;
  }

  /** Closes the open message, if any, and queues it for take(). */
  finish(): void {
    if (this.len === 0) return;
    this.closeSet();
    const b = this.buf;
    b.writeUInt16BE(10, 0);
    b.writeUInt16BE(this.len, 2);
    b.writeUInt32BE(0, 4);
    b.writeUInt32BE(0, 8);
    b.writeUInt32BE(this.domain, 12);
    this.finished.push({ data: Buffer.from(b.subarray(0, this.len)), records: this.records, skipped: this.skipped });
    this.len = 0;
    this.records = 0;
    this.skipped = 0;
  }

  /** The messages finished since the last call. */
  take(): Message[] {
    const m = this.finished;
    this.finished = [];
    return m;
  }

  private closeSet(): void {
    if (this.setId !== 0) this.buf.writeUInt16BE(this.len - this.setStart, this.setStart + 2);
  }
}

/** A message holding only the template set (sequence and time stamped on sending, like any other). */
export function templateMessage(set: Buffer, domain: number): Message {
  const b = Buffer.alloc(MESSAGE_HEADER + set.length);
  b.writeUInt16BE(10, 0);
  b.writeUInt16BE(b.length, 2);
  b.writeUInt32BE(domain, 12);
  set.copy(b, MESSAGE_HEADER);
  return { data: b, records: 0, skipped: 0 };
}

/** Writes the export time (seconds) and sequence number into a message's header as it leaves. */
export function stamp(data: Buffer, exportTime: number, sequence: number): void {
  data.writeUInt32BE(exportTime >>> 0, 4);
  data.writeUInt32BE(sequence >>> 0, 8);
}
