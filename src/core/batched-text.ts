/**
 * Gathers the text of a batch and hands it to the file sink in one write;
 * without sync, several batches are gathered for up to 100 ms or 64 KiB.
 */
import type { FileSink } from './file-sink.js';

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
