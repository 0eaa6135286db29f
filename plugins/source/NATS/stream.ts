/**
 * The stream and the durable consumer, created at the collector's start when
 * missing and checked when present: a stream set up otherwise (other
 * subjects, another duplicate window, retention or replicas) is one line
 * naming what differs, not a silent surprise.
 */
import { AckPolicy, DeliverPolicy, JetStreamApiError, RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';

export interface StreamSettings {
  stream: string;
  subjects: string[];
  duplicateWindowS: number;
  maxAgeS: number;
  maxBytes: number;
  replicas: number;
}

const NS = 1_000_000_000;
const STREAM_NOT_FOUND = 10059;
const CONSUMER_NOT_FOUND = 10014;

export async function ensureStream(jsm: JetStreamManager, s: StreamSettings): Promise<void> {
  const want: Partial<StreamConfig> & { name: string } = {
    name: s.stream,
    subjects: s.subjects,
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    duplicate_window: s.duplicateWindowS * NS,
    max_age: s.maxAgeS * NS,
    max_bytes: s.maxBytes,
    num_replicas: s.replicas,
  };
  let have: StreamConfig;
  try {
    have = (await jsm.streams.info(s.stream)).config;
  } catch (err) {
    if (!(err instanceof JetStreamApiError) || err.code !== STREAM_NOT_FOUND) throw new Error(`stream ${s.stream}: ${(err as Error).message}`);
    try {
      await jsm.streams.add(want);
    } catch (e) {
      throw new Error(`cannot create stream ${s.stream}: ${(e as Error).message}`);
    }
    return;
  }
  const differ: string[] = [];
  const missing = s.subjects.filter((x) => !have.subjects?.includes(x));
  if (missing.length) differ.push(`subjects ${JSON.stringify(have.subjects)} lack ${missing.join(', ')}`);
  if (have.duplicate_window !== want.duplicate_window) differ.push(`duplicate window ${have.duplicate_window / NS} s, not ${s.duplicateWindowS} s`);
  if (have.max_age !== want.max_age) differ.push(`max age ${have.max_age / NS} s, not ${s.maxAgeS} s`);
  if (have.max_bytes !== want.max_bytes) differ.push(`max bytes ${have.max_bytes}, not ${s.maxBytes}`);
  if (have.num_replicas !== want.num_replicas) differ.push(`replicas ${have.num_replicas}, not ${s.replicas}`);
  if (have.retention !== RetentionPolicy.Limits) differ.push(`retention ${have.retention}, not limits`);
  if (differ.length)
    throw new Error(`stream ${s.stream} exists with other settings: ${differ.join('; ')} (change the options to match, or the stream with "nats stream edit")`);
}

export async function ensureConsumer(jsm: JetStreamManager, s: StreamSettings, durable: string, ackWaitS: number, maxPending: number): Promise<void> {
  try {
    await jsm.consumers.info(s.stream, durable);
    return;
  } catch (err) {
    if (!(err instanceof JetStreamApiError) || err.code !== CONSUMER_NOT_FOUND)
      throw new Error(`consumer ${durable} of stream ${s.stream}: ${(err as Error).message}`);
  }
  await jsm.consumers.add(s.stream, {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: ackWaitS * NS,
    // The server's bound on what one durable has out unacknowledged, over all its collectors.
    max_ack_pending: Math.max(maxPending * 4, 1000),
  });
}
