/**
 * Test helper: sends bare TCP headers with any 12-bit flags word (the four
 * low bits of the data-offset byte and the flags byte) through a raw socket
 * inside a namespace, which no ordinary client can produce. One packet per
 * flags word, in order, IPv4 or IPv6 to the loopback address.
 */
import type { NetNs } from './netns.js';

const SENDER = `
import socket, struct, sys
family, sport, dport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff
if family == '6':
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_TCP)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_CHECKSUM, 16)
    dst = ('::1', 0)
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    dst = ('127.0.0.1', 0)
for n, word in enumerate(int(a, 0) for a in sys.argv[4:]):
    tcp = struct.pack('!HHIIHHHH', sport, dport, 1000 + n, 0, (5 << 12) | word, 512 + n, 0, 0)
    if family != '6':
        lo = socket.inet_aton('127.0.0.1')
        tcp = tcp[:16] + struct.pack('!H', csum(lo + lo + struct.pack('!BBH', 0, 6, len(tcp)) + tcp)) + tcp[18:]
    s.sendto(tcp, dst)
`;

/** Sends one 20-byte TCP header per flags word (0..0xfff) from `sport` to `dport`. */
export function sendTcpFlags(ns: NetNs, family: 4 | 6, sport: number, dport: number, words: readonly number[]): void {
  ns.exec('python3', ['-', String(family), String(sport), String(dport), ...words.map((w) => '0x' + w.toString(16))], SENDER);
}
