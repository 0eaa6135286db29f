/**
 * Column mapping shared by the SQL outputs: a table's columns choose the keys
 * to log. A column name maps to a key by reading `_` as `.` (`ip_saddr` →
 * `ip.saddr`, `oob_time_sec` → `oob.time.sec`), keeping `_` where the key has
 * one (`raw_mac_len` → `raw.mac_len`). Values are converted by the column's
 * declared type, so a classic integer `ip_saddr` column gets 3232235530 for
 * 192.168.0.10 and a text or inet column gets "192.168.0.10".
 */
import { byteTextBuffer, textForm } from '../../../src/core/byte-text.js';
import { closestKeys, type Key } from '../../../src/core/keys.js';
import { ipToString, macToString, hexString } from '../../../src/core/format.js';

export interface Column {
  name: string;
  /** The declared type as the database reports it (INTEGER, varchar(40), inet, bytea, ...). */
  type: string;
  /** Filled by the database itself (auto-increment id, default now()): left out of inserts. */
  generated: boolean;
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
export const CONSTANT_COLUMNS = new Set(['raw_label']);

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
export function mapColumns(columns: Column[], produced: Map<string, Key>, opts: MapOptions): { mapped: Mapped[]; ignored: string[] } {
  const mapped: Mapped[] = [];
  const ignored: string[] = [];
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
      if (opts.ignoreUnknown) {
        ignored.push(col.name);
        continue;
      }
      const near = closestKeys(col.name.replace(/_/g, '.'), produced.keys());
      throw new Error(`column "${col.name}" maps to no key${near.length ? ` (closest: ${near.join(', ')})` : ''}; drop the column or set the ignore option`);
    }
    const key = produced.get(name)!;
    mapped.push({ column: col, key, convert: converter(key, binAlias ? 'binary' : cls) });
  }
  return { mapped, ignored };
}

const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;

function ipv4Mapped(a: number): Buffer {
  const b = Buffer.alloc(16);
  b[10] = 0xff;
  b[11] = 0xff;
  b.writeUInt32BE(a >>> 0, 12);
  return b;
}

function converter(key: Key, cls: ColumnClass): (v: unknown) => unknown {
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
      return (v) => new Date(v as number).toISOString();
    case 'string':
      if (cls === 'int' || cls === 'real') return (v) => (v === '' || Number.isNaN(Number(v)) ? null : Number(v));
      // Prefixes and logins keep every byte: binary columns get them as they came, text shows a non-UTF-8 byte as \xNN.
      if (cls === 'binary') return (v) => byteTextBuffer(v as string);
      return (v) => textForm(v as string);
    default: // numbers and bigints
      if (cls === 'text') return (v) => String(v);
      if (cls === 'time') return (v) => new Date(Number(v) * 1000).toISOString(); // seconds, e.g. oob.time.sec
      if (cls === 'bool') return (v) => v !== 0;
      return (v) => (isBytes(v) ? null : v);
  }
}
