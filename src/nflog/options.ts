/** Per-group NFLOG settings, written in a group block beside the plugin options. */
import type { OptionSpecs, OptionValues } from '../core/plugin.js';
import { MAX_NLBUFSIZ } from './constants.js';

export const NFLOG_OPTIONS: OptionSpecs = {
  nlbufsiz: {
    type: 'size',
    min: 4096,
    max: MAX_NLBUFSIZ,
    description: 'kernel batch buffer of the group: packets are sent in datagrams of up to this size (default: global bufsize, 128K)',
  },
  // High enough that the kernel's datagram (nlbufsiz) fills first at high rates: the kernel allocates the whole
  // nlbufsiz for each datagram however few packets it holds, and every datagram costs a wake-up here.
  qthreshold: {
    type: 'int',
    default: 1024,
    min: 1,
    max: 65535,
    description: 'packets the kernel queues before it sends a batch',
  },
  flushtimeout: {
    type: 'int',
    default: 5,
    min: 0,
    max: 6000,
    description: 'hundredths of a second after which a partial batch is sent (latency bound at low rates)',
  },
  copymode: {
    type: 'enum',
    default: 'packet',
    values: ['packet', 'meta', 'none'],
    description: 'what the kernel copies: the packet, metadata only, or nothing',
  },
  copyrange: {
    type: 'size',
    default: 0,
    min: 0,
    max: 65535,
    description: "bytes of each packet copied (0 = the whole packet; a rule's own snaplen takes precedence)",
  },
  seq: { type: 'bool', default: true, description: 'ask for per-group sequence numbers (counts packets the kernel dropped)' },
  seqglobal: { type: 'bool', default: false, description: 'ask for global sequence numbers across all groups' },
  pfbind: { type: 'bool', default: false, description: 'rebind the IPv4/IPv6 log handler to nfnetlink_log first (only very old kernels need it)' },
};

export interface NflogSettings {
  nlbufsiz: number;
  qthreshold: number;
  flushtimeout: number;
  copymode: 'packet' | 'meta' | 'none';
  copyrange: number;
  seq: boolean;
  seqglobal: boolean;
  pfbind: boolean;
}

export function nflogSettings(v: OptionValues, globalBufsize: number): NflogSettings {
  return {
    nlbufsiz: Math.min((v.nlbufsiz as number | undefined) ?? globalBufsize, MAX_NLBUFSIZ),
    qthreshold: v.qthreshold as number,
    flushtimeout: v.flushtimeout as number,
    copymode: v.copymode as NflogSettings['copymode'],
    copyrange: v.copyrange as number,
    seq: v.seq as boolean,
    seqglobal: v.seqglobal as boolean,
    pfbind: v.pfbind as boolean,
  };
}
