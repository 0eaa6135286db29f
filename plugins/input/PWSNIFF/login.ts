/**
 * Login commands: `USER name`, `PASS secret` (FTP, POP3) and `tag LOGIN user pass` (IMAP).
 * Names and secrets keep every byte: UTF-8 as text, other bytes as byte-text.ts holds them.
 */
import { bytesToText } from 'specter/plugin';

export interface Login {
  user?: string;
  pass?: string;
}

export function parseLogin(buf: Buffer, start: number, end: number): Login | null {
  let eol = start;
  while (eol < end && buf[eol] !== 0x0d && buf[eol] !== 0x0a) eol++;
  if (eol - start < 6) return null;
  const line = bytesToText(buf, start, eol);
  // s: a name may hold U+2028/U+2029, which '.' alone would not take.
  const m = /^(USER|PASS) (.+)$/is.exec(line);
  if (m) return m[1].toUpperCase() === 'USER' ? { user: m[2] } : { pass: m[2] };
  const imap = /^\S+ LOGIN (.+)$/is.exec(line);
  if (!imap) return null;
  const args = imapArgs(imap[1]);
  return args.length === 2 ? { user: args[0], pass: args[1] } : null;
}

/** IMAP atoms and quoted strings (with \" and \\ escapes). */
function imapArgs(s: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < s.length) {
    if (s[i] === ' ') {
      i++;
      continue;
    }
    if (s[i] === '"') {
      let v = '';
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < s.length) i++;
        v += s[i++];
      }
      if (i >= s.length) return [];
      i++;
      out.push(v);
    } else {
      const j = s.indexOf(' ', i);
      out.push(s.slice(i, j < 0 ? s.length : j));
      i = j < 0 ? s.length : j;
    }
  }
  return out;
}
