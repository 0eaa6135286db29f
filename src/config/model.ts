/**
 * The configuration model shared by the classic parser and the YAML loader.
 * Every node carries its position so errors can name file, line and column.
 */

export interface Pos {
  readonly file: string;
  readonly line: number; // 1-based
  readonly col: number; // 1-based
}

export interface OptionNode {
  readonly name: string;
  /** The raw value; `true` for a flag written without a value. */
  readonly value: string | true;
  readonly pos: Pos; // of the option name
  readonly valuePos: Pos; // of the value (same as pos for a flag)
}

export interface PluginNode {
  /** As written: a built-in name (LOGEMU), a classic path (/lib/specter/specter_LOGEMU.so) or a module path. */
  readonly spec: string;
  readonly pos: Pos;
  /** Options given to this instance only (YAML). Block options apply to every plugin that declares them. */
  readonly options: readonly OptionNode[];
}

export interface GroupNode {
  /** NFLOG group id, 0–65535. */
  readonly id: number;
  readonly pos: Pos;
  /** Options written in the block (except `plugin` lines): source settings and plugin options. */
  readonly options: readonly OptionNode[];
  readonly plugins: readonly PluginNode[];
}

export interface ConfigModel {
  readonly file: string;
  readonly global: { readonly pos: Pos; readonly options: readonly OptionNode[] } | null;
  readonly groups: readonly GroupNode[];
}

/** A configuration or start-up error: printed as one line, `file:line:col: message`. */
export class ConfigError extends Error {
  constructor(
    message: string,
    readonly pos?: Pos,
  ) {
    super(message);
    this.name = 'ConfigError';
  }

  override toString(): string {
    return this.pos ? `${this.pos.file}:${this.pos.line}:${this.pos.col}: ${this.message}` : this.message;
  }
}
