/**
 * Gathers the bytes of a batch and hands them to the file sink in one write;
 * without sync, several batches are gathered for up to 100 ms or 64 KiB.
 */
import type { FileSink } from './file-sink.js';
import type { OutputInstance } from './plugin.js';
import type { Record } from './record.js';
import { TextBuffer } from './text-buffer.js';

const MAX_DELAY_MS = 100;
const MAX_BYTES = 64 * 1024;

/** Appends one record to `out`: a string, or bytes written straight into the buffer. */
export type RecordEncoder = (rec: Record, out: TextBuffer) => void;

/** An encoder from a function that returns the record's text. */
export function fromText(format: (rec: Record) => string): RecordEncoder {
  return (rec, out) => {
    const s = format(rec);
    out.reserve(s.length * 3);
    out.utf8(s);
  };
}

export class BatchedText {
  private readonly out = new TextBuffer();
  private count = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly sink: FileSink,
    private readonly sync: boolean,
    private readonly encode: RecordEncoder,
  ) {
    sink.recycle = (chunk) => this.out.release(chunk);
  }

  add(rec: Record): void {
    this.encode(rec, this.out);
    this.count++;
  }

  endBatch(): void {
    if (this.count === 0) return;
    if (this.sync || this.out.pending >= MAX_BYTES) {
      this.writeOut();
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.writeOut(), MAX_DELAY_MS);
    }
  }

  async flush(): Promise<void> {
    this.writeOut();
    await this.sink.flush();
  }

  private writeOut(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.count === 0) return;
    this.sink.write(this.out.take(), this.count);
    this.count = 0;
  }
}

/**
 * The whole life of an output that appends one text record per packet to a
 * file (LOGEMU, OPRINT, JSON): open at start, batch, SIGHUP reopen, flush.
 */
export function textFileOutput(sink: FileSink, sync: boolean, encode: RecordEncoder): OutputInstance {
  const out = new BatchedText(sink, sync, encode);
  return {
    async start() {
      sink.open();
    },
    write(rec) {
      out.add(rec);
    },
    endBatch: () => out.endBatch(),
    flush: () => out.flush(),
    reopen: () => sink.reopen(),
    busy: () => sink.busy,
    async close() {
      await out.flush();
      await sink.close();
    },
  };
}
