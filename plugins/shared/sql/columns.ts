/**
 * Column mapping shared by the SQL outputs: a table's columns choose the keys
 * to log. A column name maps to a key by reading `_` as `.` (`ip_saddr` →
 * `ip.saddr`, `oob_time_sec` → `oob.time.sec`), keeping `_` where the key has
 * one (`raw_mac_len` → `raw.mac_len`). Values are converted by the column's
 * declared type, so a classic integer `ip_saddr` column gets 3232235530 for
 * 192.168.0.10 and a text or inet column gets "192.168.0.10".
 *
 * Which columns are written: every column a key maps to, whatever its
 * default, except those the database always fills itself (identity, serial,
 * auto-increment, generated). A column no key maps to is left to its default
 * when it has one other than NULL, and is an error otherwise (a typo, or a key
 * no input produces) unless the ignore option is set.
 */
import { byteTextBuffer, textForm, closestKeys, type Key, ipToString, macToString, hexString } from 'specter/plugin';

export interface Column {
  name: string;
  /** The declared type as the database reports it (INTEGER, varchar(40), inet, bytea, ...). */
  type: string;
  /** Always filled by the database (identity, serial, auto-increment, generated): never written. */
  generated: boolean;
  /** Has a default other than NULL: left to the database when no key maps to it. */
  hasDefault?: boolean;
  /** Date-time text for this column must carry no UTC offset (MySQL and MariaDB refuse the `Z`). */
  timeWithoutZone?: boolean;
  /** The integers the server accepts here (it refuses others), when narrower than 64 bits. */
  range?: readonly [number, number];
}

/**
 * The range of a server-checked integer type (PostgreSQL `smallint`, MySQL
 * `smallint(5) unsigned`, ...), or undefined for other types and 64 bits.
 */
export function integerRange(declared: string): [number, number] | undefined {
  const m = /^(tiny|small|medium)?int(eger)?\b/i.exec(declared.trim());
  if (!m) return undefined;
  const bits = { tiny: 8, small: 16, medium: 24 }[(m[1] ?? '').toLowerCase()] ?? 32;
  return /unsigned/i.test(declared) ? [0, 2 ** bits - 1] : [-(2 ** (bits - 1)), 2 ** (bits - 1) - 1];
}

const KEY_RANGES: { readonly [t: string]: readonly [number, number] } = {
  u8: [0, 255],
  u16: [0, 65535],
  u32: [0, 4294967295],
  ipv4: [0, 4294967295],
  ipaddr: [0, 4294967295],
  i8: [-128, 127],
  i16: [-32768, 32767],
  i32: [-2147483648, 2147483647],
};

/**
 * Whether a default as the database reports it (SQL text, or null for none) is
 * a value. `DEFAULT NULL` does not count: PostgreSQL and MariaDB report it
 * for some columns and not others (`NULL::character varying`, or `NULL` for
 * any nullable column), so it says nothing about what the user meant.
 */
export function isValueDefault(dflt: string | null): boolean {
  return dflt !== null && !/^\s*\(?\s*NULL\s*\)?\s*(::[\w\s."]+)?$/i.test(dflt);
}

/** The column name the mapping reads as `key`: every `.` written as `_`. */
export function columnName(key: string): string {
  return key.replace(/\./g, '_');
}

export type ColumnClass = 'int' | 'real' | 'text' | 'binary' | 'bool' | 'time';

export function columnClass(declared: string): ColumnClass {
  const t = declared.toLowerCase();
  if (/bool/.test(t)) return 'bool';
  if (/int|serial/.test(t)) return 'int';
  if (/blob|binary|bytea/.test(t)) return 'binary';
  if (/time|date/.test(t)) return 'time';
  if (/real|floa|doub|numeric|decimal/.test(t)) return 'real';
  return 'text';
}

/** Columns whose values come from the configuration rather than from a key. */
const CONSTANT_COLUMNS = new Set(['raw_label']);

export interface Mapped {
  column: Column;
  key: Key | null; // null for a constant column
  convert: (v: unknown) => unknown;
}

/** Key names a column name can stand for: every `_` read as `.` or kept. */
function candidates(column: string): string[] {
  const parts = column.toLowerCase().split('_');
  let out = [parts[0]];
  for (let i = 1; i < parts.length; i++) out = out.flatMap((c) => [`${c}.${parts[i]}`, `${c}_${parts[i]}`]);
  return out;
}

export interface MapOptions {
  ignoreUnknown: boolean;
  label: number;
}

/**
 * Maps every column to a key of `produced` (by name). Returns the mapping and
 * the columns left out; an unknown column is an error unless ignoreUnknown.
 */
export function mapColumns(columns: Column[], produced: Map<string, Key>, opts: MapOptions): { mapped: Mapped[]; ignored: string[]; narrow: string[] } {
  const mapped: Mapped[] = [];
  const ignored: string[] = [];
  const narrow: string[] = [];
  for (const col of columns) {
    if (col.generated) continue;
    const cls = columnClass(col.type);
    if (CONSTANT_COLUMNS.has(col.name.toLowerCase())) {
      mapped.push({ column: col, key: null, convert: () => opts.label });
      continue;
    }
    let name = candidates(col.name).find((c) => produced.has(c));
    let binAlias = false;
    // ulogd2 stores addresses twice: `ip_saddr_str` (text) and `ip_saddr_bin` (16 bytes).
    if (!name && /_bin$/i.test(col.name)) {
      name = candidates(col.name.slice(0, -4)).find((c) => produced.has(c));
      binAlias = name !== undefined;
    }
    if (!name) {
      if (col.hasDefault) continue; // the database's default fills it
      if (opts.ignoreUnknown) {
        ignored.push(col.name);
        continue;
      }
      const near = closestKeys(col.name.replace(/_/g, '.'), produced.keys());
      throw new Error(`column "${col.name}" maps to no key${near.length ? ` (closest: ${near.join(', ')})` : ''}; drop the column or set the ignore option`);
    }
    const key = produced.get(name)!;
    let convert = converter(key, binAlias ? 'binary' : cls, col.timeWithoutZone === true);
    const kr = KEY_RANGES[key.type];
    const range = col.range;
    if (cls === 'int' && kr && range && (kr[0] < range[0] || kr[1] > range[1])) {
      // A value the column cannot hold would make the server refuse the whole row: it is written as NULL instead.
      narrow.push(`${col.name} (${col.type}) holds ${range[0]}..${range[1]}, ${key.name} up to ${kr[1]}`);
      const [lo, hi] = range;
      const inner = convert;
      convert = (v) => {
        const x = inner(v);
        return typeof x === 'number' && (x < lo || x > hi) ? null : x;
      };
    }
    mapped.push({ column: col, key, convert });
  }
  return { mapped, ignored, narrow };
}

const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;

function ipv4Mapped(a: number): Buffer {
  const b = Buffer.alloc(16);
  b[10] = 0xff;
  b[11] = 0xff;
  b.writeUInt32BE(a >>> 0, 12);
  return b;
}

/** Date-time text in UTC: ISO 8601, without its `Z` where the server refuses one. */
function timeText(ms: number, withoutZone: boolean): string {
  const iso = new Date(ms).toISOString();
  return withoutZone ? iso.slice(0, -1) : iso;
}

function converter(key: Key, cls: ColumnClass, withoutZone: boolean): (v: unknown) => unknown {
  switch (key.type) {
    case 'ipv4':
    case 'ipv6':
    case 'ipaddr':
      if (cls === 'int' || cls === 'real') return (v) => (typeof v === 'number' ? v >>> 0 : null);
      if (cls === 'binary') return (v) => (typeof v === 'number' ? ipv4Mapped(v) : Buffer.from(v as Uint8Array));
      return (v) => ipToString(v as number | Uint8Array);
    case 'mac':
      if (cls === 'binary') return (v) => Buffer.from(v as Uint8Array);
      return (v) => macToString(v as Uint8Array);
    case 'raw':
      if (cls === 'binary') return (v) => Buffer.from(v as Uint8Array);
      return (v) => hexString(v as Uint8Array);
    case 'bool':
      if (cls === 'text') return (v) => (v ? 'true' : 'false');
      if (cls === 'bool') return (v) => Boolean(v);
      return (v) => (v ? 1 : 0);
    case 'time':
      if (cls === 'int' || cls === 'real') return (v) => Math.floor((v as number) / 1000);
      return (v) => timeText(v as number, withoutZone);
    case 'string':
      if (cls === 'int' || cls === 'real') return (v) => (v === '' || Number.isNaN(Number(v)) ? null : Number(v));
      // Prefixes and logins keep every byte: binary columns get them as they came, text shows a non-UTF-8 byte as \xNN.
      if (cls === 'binary') return (v) => byteTextBuffer(v as string);
      return (v) => textForm(v as string);
    default: // numbers and bigints
      if (cls === 'text') return (v) => String(v);
      if (cls === 'time') return (v) => timeText(Number(v) * 1000, withoutZone); // seconds, e.g. oob.time.sec
      if (cls === 'bool') return (v) => v !== 0;
      return (v) => (isBytes(v) ? null : v);
  }
}
