/**
 * Reader for the classic specter configuration syntax:
 *
 *   global {            # blocks: `global` and one per NFLOG group id
 *       logfile stderr  # one option per line: name, then an optional value
 *   }
 *   1 {
 *       plugin BASE     # `plugin` may repeat, nothing else may
 *       logemufile "/var/log/with space.log"
 *   }
 *
 * `#` comments run to the end of the line (outside quotes); a `\` at the end
 * of a line continues it on the next one.
 */
import { ConfigError, type ConfigModel, type GroupNode, type OptionNode, type PluginNode, type Pos } from './model.js';

interface Token {
  text: string;
  pos: Pos;
  quoted: boolean;
}

interface OpenBlock {
  name: string;
  pos: Pos;
  options: OptionNode[];
  plugins: PluginNode[];
  firstSeen: Map<string, Pos>;
}

export function parseClassic(text: string, file: string): ConfigModel {
  let global: ConfigModel['global'] = null;
  const groups: GroupNode[] = [];
  const defined = new Map<string, Pos>();
  let block: OpenBlock | null = null;

  for (const tokens of logicalLines(text, file)) {
    if (tokens.length === 0) continue;
    const [first, ...rest] = tokens;

    if (!first.quoted && first.text === '}') {
      if (!block) throw new ConfigError('unexpected "}" outside a block', first.pos);
      if (rest.length) throw new ConfigError(`unexpected "${rest[0].text}" after "}": expected nothing else on the line`, rest[0].pos);
      if (block.name === 'global') {
        global = { pos: block.pos, options: block.options };
      } else {
        groups.push({ id: Number(block.name), pos: block.pos, options: block.options, plugins: block.plugins });
      }
      block = null;
      continue;
    }

    const brace = tokens.findIndex((t) => !t.quoted && t.text === '{');
    if (brace >= 0) {
      if (block)
        throw new ConfigError(`nested block: "{" inside block ${block.name} (opened at line ${block.pos.line}); close it with "}" first`, tokens[brace].pos);
      if (brace !== 1) {
        if (brace === 0) throw new ConfigError('expected a block name ("global" or a group number) before "{"', first.pos);
        throw new ConfigError(`unexpected "${tokens[1].text}": expected "{" after block name "${first.text}"`, tokens[1].pos);
      }
      if (rest.length > 1) throw new ConfigError(`unexpected "${rest[1].text}" after "{": expected the block's options on the next lines`, rest[1].pos);
      const name = checkBlockName(first);
      const before = defined.get(name);
      if (before) throw new ConfigError(`block "${name}" defined twice (first at line ${before.line})`, first.pos);
      defined.set(name, first.pos);
      block = { name, pos: first.pos, options: [], plugins: [], firstSeen: new Map() };
      continue;
    }

    if (!block) {
      if (rest.length === 0 && !first.quoted && isBlockNameLike(first.text)) {
        throw new ConfigError(`expected "{" after block name "${first.text}"`, { ...first.pos, col: first.pos.col + first.text.length });
      }
      throw new ConfigError(`option "${first.text}" outside a block: options go inside "global {" or a group block such as "1 {"`, first.pos);
    }
    if (first.quoted) throw new ConfigError(`expected an option name, found a quoted string`, first.pos);
    if (rest.length > 1)
      throw new ConfigError(`unexpected "${rest[1].text}" after the value of "${first.text}": one value per option (quote values with spaces)`, rest[1].pos);
    const value = rest[0];

    if (first.text === 'plugin') {
      if (block.name === 'global') throw new ConfigError('"plugin" belongs in a group block, not in "global"', first.pos);
      if (!value || value.text === '') throw new ConfigError('plugin needs a name: expected "plugin NAME" or "plugin /path/to/module.js"', first.pos);
      block.plugins.push({ spec: value.text, pos: value.pos, options: [] });
      continue;
    }
    const seen = block.firstSeen.get(first.text);
    if (seen) throw new ConfigError(`option "${first.text}" given twice in block ${block.name} (first at line ${seen.line})`, first.pos);
    block.firstSeen.set(first.text, first.pos);
    block.options.push({ name: first.text, value: value ? value.text : true, pos: first.pos, valuePos: value ? value.pos : first.pos });
  }

  if (block) throw new ConfigError(`block "${block.name}" is not closed (opened at line ${block.pos.line}): expected "}"`, block.pos);
  return { file, global, groups };
}

function isBlockNameLike(s: string): boolean {
  return s === 'global' || /^\d+$/.test(s);
}

function checkBlockName(t: Token): string {
  if (!t.quoted && t.text === 'global') return 'global';
  if (!t.quoted && /^\d+$/.test(t.text)) {
    const id = Number(t.text);
    if (id > 65535) throw new ConfigError(`group ${t.text} out of range 0-65535`, t.pos);
    return String(id);
  }
  throw new ConfigError(`"${t.text}" is not a block name: expected "global" or a group number 0-65535`, t.pos);
}

/** Splits the text into logical lines of tokens, joining `\` continuations and dropping comments. */
function* logicalLines(text: string, file: string): Generator<Token[]> {
  const lines = text.split('\n');
  let tokens: Token[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, '');
    const cont = tokenize(line, i + 1, file, tokens);
    if (!cont) {
      yield tokens;
      tokens = [];
    }
  }
  if (tokens.length) yield tokens;
}

/** Appends the tokens of one physical line; returns true when it ends with a continuation `\`. */
function tokenize(line: string, lineNo: number, file: string, out: Token[]): boolean {
  let i = 0;
  const n = line.length;
  while (i < n) {
    const c = line[i];
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (c === '#') return false;
    const pos: Pos = { file, line: lineNo, col: i + 1 };
    if (c === '\\' && /^\\[ \t]*$/.test(line.slice(i))) return true;
    if (c === '"') {
      let s = '';
      i++;
      for (;;) {
        if (i >= n) throw new ConfigError("unterminated quoted string: expected a closing '\"' on the same line", pos);
        const d = line[i];
        if (d === '"') {
          i++;
          break;
        }
        if (d === '\\' && i + 1 < n && (line[i + 1] === '"' || line[i + 1] === '\\')) {
          s += line[i + 1];
          i += 2;
          continue;
        }
        s += d;
        i++;
      }
      if (i < n && !/[ \t#]/.test(line[i]))
        throw new ConfigError(`unexpected "${line[i]}" right after a quoted string: expected a space`, { file, line: lineNo, col: i + 1 });
      out.push({ text: s, pos, quoted: true });
      continue;
    }
    if (c === '{' || c === '}') {
      out.push({ text: c, pos, quoted: false });
      i++;
      continue;
    }
    let j = i;
    while (j < n && !/[ \t#"{}]/.test(line[j])) j++;
    if (j < n && line[j] === '"') throw new ConfigError("unexpected '\"' inside a value: quote the whole value", { file, line: lineNo, col: j + 1 });
    const word = line.slice(i, j);
    // A trailing backslash glued to a word continues the line too.
    if (j === n && word.endsWith('\\')) {
      if (word.length > 1) out.push({ text: word.slice(0, -1), pos, quoted: false });
      return true;
    }
    out.push({ text: word, pos, quoted: false });
    i = j;
  }
  return false;
}
