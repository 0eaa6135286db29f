/**
 * The spool file of an SQL output: rows that could not be written before
 * exit are saved there and written first after the next start. One JSON line
 * per row; the first line names the keys, so a changed table still maps, and
 * the batch that was in flight at exit (its marker tells whether it committed).
 * Bytes are stored as {"b":"<base64>"}, 64-bit integers as {"n":"<digits>"}.
 */
import fs from 'node:fs';
import path from 'node:path';

export const encodeRow = (row: unknown[]): unknown[] => row.map(encode);
export const decodeRow = (row: unknown[]): unknown[] => row.map(decode);

function encode(v: unknown): unknown {
  if (v instanceof Uint8Array) return { b: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
  if (typeof v === 'bigint') return { n: v.toString() };
  return v === undefined ? null : v;
}

function decode(v: unknown): unknown {
  if (v === null) return undefined;
  if (typeof v === 'object') {
    const o = v as { b?: string; n?: string };
    if (o.b !== undefined) return Buffer.from(o.b, 'base64');
    if (o.n !== undefined) return BigInt(o.n);
  }
  return v;
}

export interface Inflight {
  marker: string;
  n: number;
}

export class Spool {
  constructor(readonly file: string, private readonly maxBytes: number) {}

  static fileFor(dir: string, name: string, group: number, table: string): string {
    return path.join(dir, `${name.replace(/[^A-Za-z0-9_-]/g, '_')}-group${group}-${table}.spool`);
  }

  /** Rows saved by an earlier run, in the order of `keys` (missing keys empty). */
  load(keys: readonly string[]): { rows: unknown[][]; inflight: Inflight | null } {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch {
      return { rows: [], inflight: null };
    }
    const lines = text.split('\n').filter(Boolean);
    if (lines.length === 0) return { rows: [], inflight: null };
    const head = JSON.parse(lines[0]) as { keys: string[]; inflight: Inflight | null };
    const pos = keys.map((k) => head.keys.indexOf(k));
    const rows = lines.slice(1).map((l) => {
      const raw = JSON.parse(l) as unknown[];
      return pos.map((p) => (p < 0 ? undefined : decode(raw[p])));
    });
    return { rows, inflight: head.inflight };
  }

  /** Saves rows; returns how many fit within the size limit. */
  save(keys: readonly string[], rows: unknown[][], inflight: Inflight | null): number {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    let out = JSON.stringify({ keys, inflight }) + '\n';
    let n = 0;
    for (const r of rows) {
      const line = JSON.stringify(r.map(encode)) + '\n';
      if (out.length + line.length > this.maxBytes) break;
      out += line;
      n++;
    }
    const tmp = `${this.file}.tmp`;
    fs.writeFileSync(tmp, out, { mode: 0o600 });
    fs.renameSync(tmp, this.file);
    return n;
  }

  remove(): void {
    fs.rmSync(this.file, { force: true });
  }
}
