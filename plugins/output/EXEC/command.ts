/**
 * The EXEC command line: split into argv once at start-up (quotes group
 * words, no shell ever sees it), macros expanded inside single arguments.
 */

const MACROS: { readonly [letter: string]: string } = {
  I: 'in-interface',
  O: 'out-interface',
  S: 'source IP',
  D: 'destination IP',
  P: 'IP protocol number',
  s: 'source port',
  d: 'destination port',
  i: 'ICMP type',
};

/** One argument: literal text parts with macro letters between them. */
export interface ArgTemplate {
  parts: string[]; // parts.length === macros.length + 1
  macros: string[];
}

export function splitCommand(cmd: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < cmd.length; i++) {
    const c = cmd[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < cmd.length) cur += cmd[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === ' ' || c === '\t') {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else if (c === '\\' && i + 1 < cmd.length) {
      cur += cmd[++i];
      inWord = true;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unterminated ${quote} quote`);
  if (inWord) out.push(cur);
  return out;
}

export function parseArg(arg: string): ArgTemplate {
  const parts: string[] = [];
  const macros: string[] = [];
  let cur = '';
  for (let i = 0; i < arg.length; i++) {
    if (arg[i] !== '%') {
      cur += arg[i];
      continue;
    }
    const m = arg[++i];
    if (m === '%') {
      cur += '%';
    } else if (m !== undefined && Object.hasOwn(MACROS, m)) {
      parts.push(cur);
      macros.push(m);
      cur = '';
    } else {
      throw new Error(
        `unknown macro %${m ?? ''}: known are ${Object.entries(MACROS)
          .map(([k, v]) => `%${k} (${v})`)
          .join(', ')}, %% (a %)`,
      );
    }
  }
  parts.push(cur);
  return { parts, macros };
}
