/**
 * The arguments of `nat-lookup ADDR[:PORT] --at TIME [--window 60s]
 * [--format table|csv|json]`: an address and port as an abuse report writes
 * them, a moment in the forms people paste, and a window.
 */
import net from 'node:net';
import { parseArgs } from 'node:util';
import { ipv6ToString } from 'specter/plugin';

export type LookupFormat = 'table' | 'csv' | 'json';

export interface LookupArgs {
  /** The translated address: a host-order number (IPv4) or 16 bytes (IPv6). */
  addr: number | Uint8Array;
  /** Its canonical text (dotted quad, RFC 5952). */
  addrText: string;
  port?: number;
  /** Seconds since the epoch (may have a fraction). */
  at: number;
  /** Seconds either side of `at`. */
  window: number;
  format: LookupFormat;
}

export const LOOKUP_USAGE = 'ADDR[:PORT] --at TIME [--window 60s] [--format table|csv|json]';

/** Parses the arguments; `usage(message)` raises a usage error. */
export function parseLookupArgs(argv: readonly string[], usage: (message: string) => never): LookupArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        at: { type: 'string' },
        window: { type: 'string', default: '60s' },
        format: { type: 'string', default: 'table' },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    return usage((err as Error).message.split('\n')[0]);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) return usage(positionals.length ? `one address expected, got ${positionals.join(' ')}` : 'the address is missing');
  if (values.at === undefined) return usage('--at TIME is missing');
  const format = values.format!;
  if (format !== 'table' && format !== 'csv' && format !== 'json') return usage(`--format: expected table, csv or json, got "${format}"`);
  const endpoint = parseEndpoint(positionals[0]);
  if (typeof endpoint === 'string') return usage(endpoint);
  const at = parseTime(values.at);
  if (typeof at === 'string') return usage(`--at: ${at}`);
  const window = parseDuration(values.window!);
  if (typeof window === 'string') return usage(`--window: ${window}`);
  return { ...endpoint, at, window, format };
}

/** `203.0.113.5`, `203.0.113.5:32768`, `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:443`; or why not. */
export function parseEndpoint(text: string): { addr: number | Uint8Array; addrText: string; port?: number } | string {
  let host = text;
  let port: string | undefined;
  const bracket = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (bracket) {
    [, host, port] = bracket;
    if (!net.isIPv6(host)) return `"${text}": expected an IPv6 address between the brackets`;
  } else if (!net.isIPv6(text)) {
    const i = text.lastIndexOf(':');
    if (i >= 0) [host, port] = [text.slice(0, i), text.slice(i + 1)];
  }
  let portNum: number | undefined;
  if (port !== undefined) {
    if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) return `"${text}": the port must be a number from 0 to 65535`;
    portNum = Number(port);
  }
  if (net.isIPv4(host)) {
    const addr = host.split('.').reduce((a, b) => a * 256 + Number(b), 0);
    return { addr, addrText: host.split('.').map(Number).join('.'), port: portNum };
  }
  if (net.isIPv6(host)) {
    const addr = ipv6Bytes(host);
    return { addr, addrText: ipv6ToString(addr), port: portNum };
  }
  return `"${text}": expected ADDR or ADDR:PORT, an IPv6 address with a port as [ADDR]:PORT`;
}

/** The 16 bytes of an IPv6 address net.isIPv6() accepted (with "::" and a dotted IPv4 tail). */
function ipv6Bytes(text: string): Uint8Array {
  let s = text.replace(/%.*$/, '');
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number);
    s = `${s.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 255;
  });
  return out;
}

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * Seconds since the epoch from epoch seconds (`1700000000`, `1700000000.25`),
 * ISO 8601 (`2026-05-01T14:32:15`, `...Z`, `...+02:00`, `...,5`) or
 * `2026-05-01 14:32:15`; without a zone, local time. Or why not.
 */
export function parseTime(text: string): number | string {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t);
  const m = DATE_TIME.exec(t);
  if (!m) return `"${text}": expected epoch seconds, YYYY-MM-DD HH:MM:SS or ISO 8601 (2026-05-01T14:32:15+02:00)`;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map((x) => Number(x ?? 0));
  const frac = m[7] ? Number(`0.${m[7]}`) : 0;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return `"${text}": not a valid date and time`;
  let ms: number;
  if (m[8]) {
    const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(m[8]);
    const offset = z ? (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3] ?? 0)) : 0;
    ms = Date.UTC(y, mo - 1, d, h, mi, s) - offset * 60_000;
    if (new Date(Date.UTC(y, mo - 1, d)).getUTCDate() !== d) return `"${text}": not a valid date`;
  } else {
    const local = new Date(y, mo - 1, d, h, mi, s);
    if (local.getDate() !== d) return `"${text}": not a valid date`;
    ms = local.getTime();
  }
  return ms / 1000 + frac;
}

/** Seconds from `90`, `90s`, `5m`, `1h`; or why not. */
export function parseDuration(text: string): number | string {
  const m = /^(\d+(?:\.\d+)?)(s|m|h)?$/i.exec(text.trim());
  if (!m) return `"${text}": expected seconds, or a number with s, m or h (60s, 5m, 1h)`;
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[(m[2] ?? 's').toLowerCase() as 's' | 'm' | 'h'];
}
