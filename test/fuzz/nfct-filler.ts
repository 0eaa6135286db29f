/** The NFCT record filling with every key wanted, checking each value against its key's type (for the fuzz test). */
import { Record } from '../../src/core/record.js';
import { FlowFiller as Filler } from '../../plugins/source/NFCT/fill.js';
import type { Flow } from '../../plugins/source/NFCT/flow.js';
import { NFCT_KEYS } from '../../plugins/source/NFCT/keys.js';

const RANGE: { [type: string]: number } = { u8: 0xff, u16: 0xffff, u32: 0xffffffff };

export class FlowFiller {
  private readonly filler = new Filler();
  private readonly rec = new Record(NFCT_KEYS.length);

  fill(f: Flow): void {
    this.rec.clear();
    const start = f.startSec >= 0 ? f.startSec : 1;
    this.filler.fill(f, this.rec, start, 2, f.stopSec, f.stopSec >= 0 ? Math.floor(f.stopNsec / 1000) : -1);
    this.rec.forEachSet((slot, v) => {
      const { name, type } = NFCT_KEYS[slot];
      const ok =
        type in RANGE
          ? Number.isInteger(v) && (v as number) >= 0 && (v as number) <= RANGE[type]
          : type === 'u64'
            ? typeof v === 'bigint' && v >= 0n
            : type === 'string'
              ? typeof v === 'string' && v.length > 0
              : type === 'ipaddr'
                ? (typeof v === 'number' && v >= 0 && v <= 0xffffffff) || (v instanceof Uint8Array && v.length === 16)
                : type === 'raw'
                  ? v instanceof Uint8Array
                  : false;
      if (!ok) throw new Error(`key ${name} (${type}) holds ${String(v)}`);
    });
  }
}
