/** A tmpfs of a few KiB mounted for a test, a disk that fills (root needed). (Test code.) */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

export class SmallDisk {
  /** Mounts a tmpfs of `size` (as mount takes it: 64k, 16m) on `path`, made if missing. */
  constructor(
    readonly path: string,
    size: string,
  ) {
    fs.mkdirSync(path, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', path]);
  }

  /** Makes room (or takes it away) without touching the files. */
  resize(size: string): void {
    execFileSync('mount', ['-o', `remount,size=${size}`, this.path]);
  }

  /** Unmounts it; nothing to do when it is not mounted any more. */
  unmount(): void {
    try {
      execFileSync('umount', [this.path], { stdio: 'ignore' });
    } catch {
      // not mounted
    }
  }
}
