/**
 * The wall clock in microseconds, for packets the kernel sends without a
 * timestamp (the output hook). Date.now() has millisecond steps, so the time
 * is the monotonic clock (performance.now(), microseconds) plus the offset to
 * the wall clock, which Node measures at start-up to the microsecond
 * (performance.timeOrigin). NTP slews both clocks alike; when the wall clock
 * is stepped (settimeofday, an NTP step) the offset is measured again.
 */
export class WallClock {
  /** Wall-clock microseconds minus performance.now() microseconds. */
  private offset = Math.round(performance.timeOrigin * 1000);

  /** Microseconds since the epoch. */
  now(): number {
    const us = this.offset + Math.floor(performance.now() * 1000);
    // Date.now() is the wall clock floored to the millisecond: in step, us - ms * 1000 is in [0, 1000).
    const ahead = us - Date.now() * 1000;
    if (ahead < -1000 || ahead >= 2000) return this.resync();
    return us;
  }

  /**
   * Measures the offset again at the instant Date.now() turns to the next
   * millisecond (at most 1 ms of waiting, only after a clock step).
   */
  private resync(): number {
    const start = Date.now();
    let ms: number;
    while ((ms = Date.now()) === start);
    const mono = performance.now();
    this.offset = ms * 1000 - Math.floor(mono * 1000);
    return ms * 1000;
  }
}
