/**
 * Runs commands without blocking the packet path: a bounded queue, at most
 * `maxChildren` at once (1 with execwait, keeping packet order), at most
 * `maxRate` spawns per second. What does not fit in the queue is dropped and counted.
 * drain() waits for every command; close() gives up on them (the shutdown deadline).
 * A command that fails (cannot start, exits non-zero, is killed) counts as an error,
 * and its record as dropped: what the record asked for did not happen. Records are
 * committed, oldest first, once their command finished or they were dropped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import { CommitQueue, type Counters } from 'specter/plugin';

export class Runner {
  private queue: string[][] = [];
  /** The commit ticket of each queued command. */
  private tickets: number[] = [];
  private readonly commits: CommitQueue;
  private running = 0;
  private tokens: number;
  private lastRefill = Date.now();
  private timer: NodeJS.Timeout | null = null;
  private waiters: Array<() => void> = [];
  private readonly children = new Set<ChildProcess>();
  private closed = false;

  constructor(
    private readonly file: string,
    private readonly maxChildren: number,
    private readonly maxRate: number,
    private readonly maxQueue: number,
    private readonly counters: Counters,
    private readonly log: Logger,
    commit: (n: number) => void,
  ) {
    this.tokens = maxRate;
    this.commits = new CommitQueue(commit);
  }

  enqueue(args: string[]): void {
    if (this.closed || this.queue.length >= this.maxQueue) {
      this.counters.dropped++;
      this.commits.now(1);
      if (this.counters.dropped % 1000 === 1)
        this.log.warn({ dropped: this.counters.dropped }, 'EXEC queue full: dropping commands (raise execmaxrate/execmaxchildren or narrow the rule)');
      return;
    }
    this.queue.push(args);
    this.tickets.push(this.commits.hold(1));
  }

  /** A record that runs no command (left out by design), counted by the caller: settled in its place. */
  skip(): void {
    this.commits.now(1);
  }

  pump(): void {
    if (this.closed) return;
    this.refill();
    while (this.queue.length && this.running < this.maxChildren && this.tokens >= 1) {
      this.tokens--;
      this.run(this.queue.shift()!, this.tickets.shift()!);
    }
    if (this.queue.length && this.running < this.maxChildren && !this.timer) {
      this.timer = setTimeout(
        () => {
          this.timer = null;
          this.pump();
        },
        Math.ceil(1000 / this.maxRate),
      );
    }
    if (!this.queue.length && this.running === 0) {
      const w = this.waiters;
      this.waiters = [];
      for (const fn of w) fn();
    }
  }

  /** Resolves when every queued command has run. */
  drain(): Promise<void> {
    this.pump();
    if (!this.queue.length && this.running === 0) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  /** Kills the commands still running and forgets those waiting, counting both as dropped. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.counters.dropped += this.queue.length + this.children.size;
    this.queue = [];
    this.tickets = [];
    for (const child of this.children) child.kill('SIGKILL');
    this.children.clear();
    this.running = 0;
    this.commits.settleAll();
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  private refill(): void {
    const now = Date.now();
    this.tokens = Math.min(this.maxRate, this.tokens + ((now - this.lastRefill) / 1000) * this.maxRate);
    this.lastRefill = now;
  }

  private run(args: string[], ticket: number): void {
    this.running++;
    const child = spawn(this.file, args, { shell: false, stdio: 'ignore' });
    this.children.add(child);
    const done = (ok: boolean, why: string) => {
      // After close() the command was counted as dropped (and killed).
      if (!this.children.delete(child)) return;
      this.running--;
      if (ok) this.counters.sent++;
      else {
        this.counters.dropped++;
        this.counters.errors++;
        if (this.counters.errors % 100 === 1) this.log.warn({ command: [this.file, ...args], failures: this.counters.errors }, `command ${why}`);
      }
      this.commits.settle(ticket);
      this.pump();
    };
    child.on('error', (err) => done(false, `could not run: ${err.message}`));
    child.on('exit', (code, signal) => done(code === 0, signal ? `killed by ${signal}` : `exited with ${code}`));
  }
}
