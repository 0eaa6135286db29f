/**
 * Gathers the text of a batch and hands it to the file sink in one write;
 * without sync, several batches are gathered for up to 100 ms or 64 KiB.
 */
import type { FileSink } from './file-sink.js';
import type { OutputInstance } from './plugin.js';
import type { Record } from './record.js';

const MAX_DELAY_MS = 100;
const MAX_BYTES = 64 * 1024;

export class BatchedText {
  private text = '';
  private count = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly sink: FileSink, private readonly sync: boolean) {}

  add(s: string): void {
    this.text += s;
    this.count++;
  }

  endBatch(): void {
    if (this.count === 0) return;
    if (this.sync || this.text.length >= MAX_BYTES) {
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
    this.sink.write(this.text, this.count);
    this.text = '';
    this.count = 0;
  }
}

/**
 * The whole life of an output that appends one text record per packet to a
 * file (LOGEMU, OPRINT, JSON): open at start, batch, SIGHUP reopen, flush.
 */
export function textFileOutput(
  sink: FileSink,
  sync: boolean,
  format: (rec: Record) => string,
): OutputInstance {
  const out = new BatchedText(sink, sync);
  return {
    async start() {
      sink.open();
    },
    write(rec) {
      out.add(format(rec));
    },
    endBatch: () => out.endBatch(),
    flush: () => out.flush(),
    reopen: () => sink.reopen(),
    async close() {
      await out.flush();
      await sink.close();
    },
  };
}
