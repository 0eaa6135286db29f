/**
 * Key registry: every field a plugin can produce is a typed key with a slot
 * index. Names are resolved to slots once at start-up; per-packet code only
 * touches slot indexes.
 */

/** The value types of keys and how a value of each type is held in a record slot. */
export type KeyType =
  | 'u8'
  | 'u16'
  | 'u32'
  | 'i8'
  | 'i16'
  | 'i32' // number
  | 'u64'
  | 'i64' // bigint
  | 'bool' // boolean
  | 'ipv4' // number, host order (192.168.0.10 = 0xc0a8000a)
  | 'ipv6' // Uint8Array(16)
  | 'ipaddr' // number (IPv4) or Uint8Array(16) (IPv6), per packet
  | 'mac' // Uint8Array (usually 6 bytes)
  | 'string' // string
  | 'raw' // Uint8Array
  | 'time'; // number: milliseconds since the epoch (may have a fraction)

export interface KeyDef {
  readonly name: string;
  readonly type: KeyType;
  readonly description?: string;
}

export interface Key extends KeyDef {
  readonly slot: number;
}

/** One registry per daemon; slots are shared by all groups (a record has one slot per registered key). */
export class KeyRegistry {
  private readonly byName = new Map<string, Key>();
  private readonly list: Key[] = [];

  /** Registers a key, or returns the existing one when name and type agree. */
  register(def: KeyDef): Key {
    const old = this.byName.get(def.name);
    if (old) {
      if (old.type !== def.type) {
        throw new Error(`key ${def.name} registered twice with different types (${old.type} and ${def.type})`);
      }
      return old;
    }
    const key: Key = Object.freeze({ ...def, slot: this.list.length });
    this.byName.set(def.name, key);
    this.list.push(key);
    return key;
  }

  get(name: string): Key | undefined {
    return this.byName.get(name);
  }

  get size(): number {
    return this.list.length;
  }

  all(): readonly Key[] {
    return this.list;
  }
}

/** Names of known keys closest to `name`, for "did you mean" messages. */
export function closestKeys(name: string, candidates: Iterable<string>, max = 3): string[] {
  const scored: Array<[number, string]> = [];
  for (const c of candidates) scored.push([editDistance(name, c), c]);
  scored.sort((a, b) => a[0] - b[0] || a[1].localeCompare(b[1]));
  const limit = Math.max(2, Math.ceil(name.length / 3));
  return scored
    .filter(([d]) => d <= limit)
    .slice(0, max)
    .map(([, c]) => c);
}

function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length];
}
