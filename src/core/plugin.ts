/**
 * The plugin contract. A plugin module's default export is a PluginDefinition.
 * Built-ins live under plugins/<kind>/<NAME>/; third-party plugins are
 * JavaScript modules named by path in the config and export the same shape.
 *
 * Life of a group's pipeline:
 *  1. every input definition's `produces` keys are registered;
 *  2. outputs are created; each resolves the keys it reads with ctx.key()/ctx.allKeys()
 *     (resolving a key no input of the group produces is a start-up error);
 *  3. inputs are created; ctx.want(name) returns the key only when something reads it,
 *     so an input decodes only fields in use;
 *  4. start() opens files, sockets and connections (never called by --check); after the
 *     privilege drop, ready() checks what the output writes as the final user;
 *  5. per packet: every input's process(), then every output's write(); after each batch
 *     of packets from the source, every output's endBatch(); as records become durable
 *     (or are counted as dropped), the output calls ctx.commit(n), oldest first;
 *  6. SIGHUP: reopen(); SIGTERM: flush() then close(), for every output at once; close() comes
 *     when flush() ends or when the shutdown timeout passes, whichever is first.
 */
import type { Logger } from 'pino';
import type { Counters } from './counters.js';
import type { Key, KeyDef } from './keys.js';
import type { Packet } from './packet.js';
import type { Record } from './record.js';
import type { RecordSink } from './source.js';

export type OptionType = 'string' | 'int' | 'bool' | 'size' | 'enum';
export type OptionValue = string | number | boolean;

export interface OptionSpec {
  type: OptionType;
  description: string;
  default?: OptionValue;
  required?: boolean;
  /** Allowed values of an 'enum' option. */
  values?: readonly string[];
  min?: number;
  max?: number;
}

export type OptionSpecs = { readonly [name: string]: OptionSpec };
export type OptionValues = { readonly [name: string]: OptionValue | undefined };

/** The value an option of this type converts to. */
type TypeValue<T extends OptionType> = T extends 'bool' ? boolean : T extends 'int' | 'size' ? number : string;
/** An enum's value is one of its `values`; other types by TypeValue. */
type SpecValue<S extends OptionSpec> = S extends { type: 'enum'; values: readonly (infer V extends string)[] } ? V : TypeValue<S['type']>;
/** Options that are always set: required ones and those with a default. */
type AlwaysSet<S extends OptionSpec> = S extends { required: true } | { default: OptionValue } ? true : false;

/**
 * The typed values of an option table written inline in a definition
 * (`defineOutput({ options: { f: { type: 'string', default: 'x' } } })`
 * gives `ctx.options.f: string`); a wide `OptionSpecs` gives OptionValues.
 */
export type OptionValuesOf<O extends OptionSpecs> = {
  readonly [K in keyof O]: AlwaysSet<O[K]> extends true ? SpecValue<O[K]> : SpecValue<O[K]> | undefined;
};

interface BaseContext<O extends OptionSpecs = OptionSpecs> {
  /** Instance name for logs and counters, e.g. "LOGEMU" or "LOGEMU#2". */
  readonly name: string;
  /** The group (NFLOG group id) this instance belongs to. */
  readonly group: number;
  /** Options after type conversion, with defaults applied. */
  readonly options: OptionValuesOf<O>;
  readonly log: Logger;
  readonly counters: Counters;
  /** True under --check: build everything, open nothing. */
  readonly checkOnly: boolean;
  /** Raises a start-up error naming this plugin (and the option, if given). */
  fail(message: string, option?: string): never;
}

export interface OutputContext<O extends OptionSpecs = OptionSpecs> extends BaseContext<O> {
  /** This machine's name as a sensor (global `sensor`, default the host name). */
  readonly sensor: string;
  /** Resolves a key this output reads; a key no input of the group produces is a start-up error. */
  key(name: string): Key;
  /** Like key(), but returns undefined instead of failing. Marks the key read only when found. */
  optionalKey(name: string): Key | undefined;
  /** Every key the group's inputs produce, marked read. */
  allKeys(): readonly Key[];
  /** Every key the group's inputs produce, without marking them read. */
  producedKeys(): readonly Key[];
  /**
   * The durability signal: the oldest n records this output accepted (in the order write()
   * got them) and had not committed yet are settled: durably written (handed to the kernel,
   * a transaction committed, spooled to an fsync'd file), sent, finished, or counted as
   * dropped. Every accepted record is committed exactly once. CommitQueue turns settlements
   * that happen out of order into these calls.
   */
  commit(n: number): void;
  /**
   * Another output of the group, by the name --check shows (LOGEMU, LOGEMU#2), that then
   * gets only the records this output hands it and none of the group's: where an output
   * diverts what it cannot take (a forwarder's `dropto`). Naming this output, an unknown
   * one, or one already diverted to is a start-up error naming `option`.
   */
  divertTo(name: string, option: string): DivertTarget;
}

/** An output fed by another output of its group (see OutputContext.divertTo). */
export interface DivertTarget {
  /** One record, counted as received by the target. */
  write(rec: Record): void;
  endBatch(): void;
}

export interface InputContext<O extends OptionSpecs = OptionSpecs> extends BaseContext<O> {
  /** The key if some plugin of the group reads it, else null: skip computing it. */
  want(name: string): Key | null;
  /** Resolves a key produced by an earlier input of the group that this input reads. */
  key(name: string): Key;
}

export interface InputInstance {
  /** Fill the record from the packet (and from keys earlier inputs set). */
  process(pkt: Packet, rec: Record): void;
  start?(): Promise<void>;
  close?(): Promise<void>;
}

export interface OutputInstance {
  start?(): Promise<void>;
  /** Called for each packet. The record is reused: serialize what you need now. Never block. */
  write(rec: Record): void;
  /** End of a source batch: start the I/O for what write() collected (one write per batch). */
  endBatch(): void;
  /**
   * Called once every group reads and root was dropped (-u): check what the
   * output will write from now on as the user the daemon runs as (a spool
   * directory, say). A throw is a start-up error, like one from start().
   */
  ready?(): Promise<void>;
  /** Write out everything accepted so far; resolves when it is written or counted as dropped. */
  flush(): Promise<void>;
  /** Reopen files (SIGHUP, logrotate). */
  reopen?(): Promise<void>;
  /**
   * Release everything, promptly: this may come while flush() is still waiting (the shutdown
   * timeout passed). Spool what is still pending, or count it as dropped; do not wait for it.
   */
  close(): Promise<void>;
  /**
   * True while the output is behind and has little room left (a disk slower
   * than the traffic): the source stops reading until it is false again, and
   * packets wait in the kernel's buffer instead of being dropped here.
   */
  busy?(): boolean;
}

interface BaseDefinition<O extends OptionSpecs> {
  readonly name: string;
  readonly description: string;
  readonly options: O;
}

export interface InputDefinition<O extends OptionSpecs = OptionSpecs> extends BaseDefinition<O> {
  readonly kind: 'input';
  /** Every key this input can set. */
  readonly produces: readonly KeyDef[];
  create(ctx: InputContext<O>): InputInstance | Promise<InputInstance>;
}

export interface OutputDefinition<O extends OptionSpecs = OptionSpecs> extends BaseDefinition<O> {
  readonly kind: 'output';
  create(ctx: OutputContext<O>): OutputInstance | Promise<OutputInstance>;
  /**
   * Commands of the command line that read what this output wrote
   * (`specter -c FILE nat-lookup ...`), by name: each makes the command from
   * the output's options in the configuration, typed, with defaults applied.
   */
  readonly commands?: { readonly [name: string]: CommandMaker<O> };
}

/**
 * A command an output offers on what it wrote, run as `specter -c FILE NAME
 * ARGS...`, made from the options the configuration gives that output. The
 * command line runs it for the first output in the order of the file that
 * offers NAME in a group reading `source` (any group when absent).
 */
export interface PluginCommand {
  /** Only in a group whose block reads this source (`NFCT` for `source NFCT`). */
  readonly source?: string;
  /** The arguments after the name, for the usage line: `ADDR[:PORT] --at TIME`. */
  readonly usage: string;
  /** Resolves to the exit code. A ctx.usage() error exits 2 with the usage line; any other error exits 2 with its message. */
  run(args: readonly string[], ctx: CommandContext): Promise<number>;
}

export interface CommandContext {
  /** The output it runs for, as --check names it (PGSQL, PGSQL#2), and its group. */
  readonly name: string;
  readonly group: number;
  /** Where the answer goes (stdout). */
  write(text: string): void;
  /** A one-line note for the user (stderr): "no flow found ...". */
  say(text: string): void;
  /** Raises a usage error: one line with the command's usage; exit code 2. */
  usage(message: string): never;
}

/** Makes a command from typed options; a method type, so that a definition still fits OutputDefinition<OptionSpecs>, as create() does. */
type CommandMaker<O extends OptionSpecs> = { make(options: OptionValuesOf<O>): PluginCommand }['make'];

/** The error ctx.usage() raises. */
export class CommandUsageError extends Error {
  override readonly name = 'CommandUsageError';
}

/**
 * Where a group's records come from when it does not read a kernel NFLOG group
 * (`source NAME` in the block): a collector reading forwarded records, later
 * conntrack, accounting, a capture replayed. A source that rebuilds whole
 * records fills `sink.record` and calls `sink.deliver()`; the group then has
 * no input plugins.
 */
export interface SourceContext<O extends OptionSpecs = OptionSpecs> extends BaseContext<O> {
  /** This machine's name as a sensor (global `sensor`, default the host name). */
  readonly sensor: string;
  /** The netlink receive buffer a kernel source asks for (global `rmem`). */
  readonly rmem: number;
  /** The key if some output of the group reads it, else null: skip setting it. */
  want(name: string): Key | null;
  /** True when the group's records may carry the key (the source produces it), read or not. */
  known(name: string): boolean;
}

export interface SourceInstance {
  /** For logs and counters, e.g. "NATS SPECTER/central". */
  readonly name: string;
  readonly counters: Counters;
  /** Connects and starts delivering records; rejects with a clear message when it cannot. */
  start(sink: RecordSink): Promise<void>;
  /** Stops delivering, after settling what is on its way for at most `maxMs`. */
  stop(maxMs?: number): Promise<void>;
}

export interface SourceDefinition<O extends OptionSpecs = OptionSpecs> extends BaseDefinition<O> {
  readonly kind: 'source';
  /** Keys the source sets itself. */
  readonly produces: readonly KeyDef[];
  /**
   * The source's records were built by input plugins elsewhere (a sensor): the
   * keys of every built-in input are produced too, with their types.
   */
  readonly inputKeys?: boolean;
  /** What --check prints for the group's source, from its options. */
  describe?(options: OptionValuesOf<O>): string;
  /** Builds the source; opens nothing (start() does), since --check calls it too. */
  create(ctx: SourceContext<O>): SourceInstance | Promise<SourceInstance>;
}

export type PluginDefinition = InputDefinition | OutputDefinition;

/**
 * Identity helpers that give plugin authors type checking: the option table
 * written inline types `ctx.options` (see OptionValuesOf).
 */
export function defineInput<const O extends OptionSpecs>(def: Omit<InputDefinition<O>, 'kind'>): InputDefinition<O> {
  return { kind: 'input', ...def };
}
export function defineOutput<const O extends OptionSpecs>(def: Omit<OutputDefinition<O>, 'kind'>): OutputDefinition<O> {
  return { kind: 'output', ...def };
}
export function defineSource<const O extends OptionSpecs>(def: Omit<SourceDefinition<O>, 'kind'>): SourceDefinition<O> {
  return { kind: 'source', ...def };
}
