/**
 * Interface index → name, read from /sys/class/net (which `ip netns exec`
 * remounts per namespace) and re-read when an unknown index shows up, at
 * most once a second, so new and renamed interfaces resolve.
 */
import fs from 'node:fs';

const SYS = '/sys/class/net';

export class IfNames {
  private names = new Map<number, string>();
  private loadedAt = 0;

  constructor() {
    this.load();
  }

  name(index: number): string {
    if (index <= 0) return '';
    const n = this.names.get(index);
    if (n !== undefined) return n;
    if (Date.now() - this.loadedAt >= 1000) {
      this.load();
      const again = this.names.get(index);
      if (again !== undefined) return again;
    }
    return String(index);
  }

  private load(): void {
    this.loadedAt = Date.now();
    const names = new Map<number, string>();
    try {
      for (const dev of fs.readdirSync(SYS)) {
        try {
          names.set(Number(fs.readFileSync(`${SYS}/${dev}/ifindex`, 'utf8')), dev);
        } catch {
          // the interface went away while we read
        }
      }
    } catch {
      return;
    }
    this.names = names;
  }
}
