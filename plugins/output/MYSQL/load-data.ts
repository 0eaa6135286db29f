/**
 * A batch as the text LOAD DATA reads with its defaults (FIELDS TERMINATED BY
 * '\t' ESCAPED BY '\\', LINES TERMINATED BY '\n'): a tab between values, a
 * newline after each row, \N for NULL, and backslash escapes for backslash,
 * tab, newline, carriage return, NUL and Ctrl-Z. The file is read as utf8mb4,
 * which raw bytes are not: values of binary columns go as hex into a user
 * variable that the statement UNHEXes.
 */
import { Readable } from 'node:stream';
import type { TextBuffer } from 'specter/plugin';
import { columnClass, type Column } from '../../shared/sql/columns.js';

const TAB = 9;
const NEWLINE = 10;
const BACKSLASH = 92;
/** Bytes per chunk handed to the driver, one protocol packet each (a packet holds at most 16 MiB). */
const CHUNK = 64 * 1024;

export class LoadData {
  /** The statement; the file name is not read (the driver streams the batch whatever name the server asks for). */
  readonly sql: string;
  /** Per column: its values go as hex (binary columns). */
  private readonly hex: boolean[];

  constructor(table: string, cols: Column[]) {
    this.hex = cols.map((c) => columnClass(c.type) === 'binary');
    const targets = cols.map((c, i) => (this.hex[i] ? `@v${i}` : `\`${c.name}\``));
    const sets = cols.flatMap((c, i) => (this.hex[i] ? [`\`${c.name}\` = UNHEX(@v${i})`] : []));
    this.sql = `LOAD DATA LOCAL INFILE 'batch' INTO TABLE \`${table}\` CHARACTER SET utf8mb4 (${targets.join(', ')})${sets.length ? ` SET ${sets.join(', ')}` : ''}`;
  }

  /** The rows (values in column order) as one slice of `out`. */
  encode(out: TextBuffer, rows: unknown[][]): Buffer {
    const hex = this.hex;
    for (const row of rows) {
      for (let i = 0; i < row.length; i++) {
        out.reserve(1);
        if (i) out.byte(TAB);
        const v = row[i];
        if (v === null || v === undefined) {
          out.reserve(2);
          out.byte(BACKSLASH);
          out.byte(78); // N
        } else if (hex[i]) {
          // What the server would make of the value bound as a parameter: bytes as they are, anything else as its text.
          const b = v instanceof Uint8Array ? v : Buffer.from(String(typeof v === 'boolean' ? Number(v) : v));
          out.reserve(b.length * 2);
          out.hex(b);
        } else if (typeof v === 'number' && Number.isSafeInteger(v)) {
          out.reserve(17);
          out.int(v);
        } else if (typeof v === 'boolean') {
          out.reserve(1);
          out.byte(v ? 49 : 48); // 1, 0
        } else {
          text(out, String(v));
        }
      }
      out.reserve(1);
      out.byte(NEWLINE);
    }
    return out.take();
  }
}

/** The text as a stream of views into it, CHUNK bytes at most each. */
export function chunks(text: Buffer): Readable {
  const parts: Buffer[] = [];
  for (let o = 0; o < text.length; o += CHUNK) parts.push(text.subarray(o, Math.min(text.length, o + CHUNK)));
  return Readable.from(parts, { objectMode: false });
}

const HAS_SPECIAL = /[\\\t\n\r\0\x1a]/;
const SPECIAL = /[\\\t\n\r\0\x1a]/g;
const ESCAPED: { readonly [c: string]: string } = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0', '\x1a': '\\Z' };

function text(out: TextBuffer, s: string): void {
  const t = HAS_SPECIAL.test(s) ? s.replace(SPECIAL, (c) => ESCAPED[c]) : s;
  out.reserve(t.length * 3);
  out.utf8(t);
}
