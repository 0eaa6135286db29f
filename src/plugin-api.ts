/**
 * The plugin kit, `specter/plugin`: the one module a plugin imports, built-in
 * or third-party. The contract (doc/plugins.md) and what the built-ins share:
 * definitions with typed options, keys and records, counters and the commit
 * signal, FileSink and SocketSink, a reconnecting sink with a bounded queue,
 * back-off and a rate-limited error reporter, and the text helpers outputs
 * build lines with.
 */

// The contract: definitions, contexts, instances, typed options.
export {
  defineInput,
  defineOutput,
  defineSource,
  type DivertTarget,
  type InputContext,
  type InputDefinition,
  type InputInstance,
  type OptionSpec,
  type OptionSpecs,
  type OptionType,
  type OptionValue,
  type OptionValues,
  type OptionValuesOf,
  type OutputContext,
  type OutputDefinition,
  type OutputInstance,
  type PluginDefinition,
  type SourceContext,
  type SourceDefinition,
  type SourceInstance,
  CommandUsageError,
  type CommandContext,
  type PluginCommand,
} from './core/plugin.js';
export type { PacketSink, RecordSink } from './core/source.js';

// Keys, records, packets.
export { closestKeys, KeyRegistry, type Key, type KeyDef, type KeyType } from './core/keys.js';
export { Record } from './core/record.js';
export { Packet } from './core/packet.js';

// Counters and durability.
export { Counters } from './core/counters.js';
export { CommitQueue } from './core/commit-queue.js';

// Destinations: files, sockets, anything that reconnects.
export { FileSink, type FileSinkOptions } from './core/file-sink.js';
export { parseEndpoint, SocketSink, type Endpoint } from './core/socket-sink.js';
export { UdpSocket, type SendResult } from './core/udp-socket.js';
export { ReconnectingSink, type Link, type ReconnectingSinkOptions } from './core/reconnecting-sink.js';
export { Backoff } from './core/backoff.js';
export { ErrorReporter, type ReporterOptions } from './core/error-reporter.js';

// Text: batched lines, byte-exact text, number and address formatting.
export { BatchedText, fromText, textFileOutput, type RecordEncoder } from './core/batched-text.js';
export { bytesToText, byteTextBuffer, printableForm, putByteText, textForm } from './core/byte-text.js';
export { hexString, ipToString, ipv4ToString, ipv6ToString, macToString, valueToString } from './core/format.js';
export { putBytes, putFixed, putHex, putInt, putIpv4, putUint, TextBuffer } from './core/text-buffer.js';
export { i32le, u16be, u16le, u32be, u32le } from './core/bytes.js';
export { copyBytes, LastBytes } from './core/last-bytes.js';

// Kernel sources: a netlink socket of any protocol.
export {
  NETLINK_ADD_MEMBERSHIP,
  NETLINK_BROADCAST_ERROR,
  NETLINK_DROP_MEMBERSHIP,
  NETLINK_NO_ENOBUFS,
  NetlinkSocket,
  type NetlinkHandlers,
} from './netlink/socket.js';
export { nfnetlinkDump } from './netlink/dump-request.js';
