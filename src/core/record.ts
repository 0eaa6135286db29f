/**
 * A record holds the fields of one packet: one slot per registered key and a
 * presence flag per slot. One record is reused for every packet of a group;
 * clearing touches only the slots the previous packet set.
 */
import type { Key } from './keys.js';

export class Record {
  readonly values: unknown[];
  readonly present: Uint8Array;
  private readonly setSlots: Int32Array;
  private setCount = 0;

  constructor(slots: number) {
    this.values = new Array(slots).fill(undefined);
    this.present = new Uint8Array(slots);
    this.setSlots = new Int32Array(slots);
  }

  set(key: Key, value: unknown): void {
    this.setSlot(key.slot, value);
  }

  setSlot(slot: number, value: unknown): void {
    if (this.present[slot] === 0) {
      this.present[slot] = 1;
      this.setSlots[this.setCount++] = slot;
    }
    this.values[slot] = value;
  }

  has(key: Key): boolean {
    return this.present[key.slot] === 1;
  }

  get(key: Key): unknown {
    return this.present[key.slot] === 1 ? this.values[key.slot] : undefined;
  }

  /** Slots set for the current packet, in the order they were set. */
  forEachSet(fn: (slot: number, value: unknown) => void): void {
    for (let i = 0; i < this.setCount; i++) {
      const s = this.setSlots[i];
      fn(s, this.values[s]);
    }
  }

  clear(): void {
    for (let i = 0; i < this.setCount; i++) {
      const s = this.setSlots[i];
      this.present[s] = 0;
      this.values[s] = undefined;
    }
    this.setCount = 0;
  }
}
