/**
 * Per-component counters after Vector's component specification:
 * events received, events sent (written), events dropped, errors.
 * Plugins may add named counters of their own (e.g. EXEC's skipped runs).
 */
export class Counters {
  received = 0;
  sent = 0;
  dropped = 0;
  errors = 0;
  readonly extra: { [name: string]: number } = {};

  add(name: string, n = 1): void {
    this.extra[name] = (this.extra[name] ?? 0) + n;
  }

  snapshot(): { [name: string]: number } {
    return { received: this.received, sent: this.sent, dropped: this.dropped, errors: this.errors, ...this.extra };
  }
}
