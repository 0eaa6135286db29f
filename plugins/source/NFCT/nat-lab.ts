/**
 * Test code: a router namespace between a client and a server namespace,
 * with DNAT (10.10.0.1:8000 and [fd10::1]:8000 to the server's port 9000)
 * and SNAT (masquerade towards the server), conntrack accounting and
 * timestamps on and short UDP and ICMP timeouts. The client makes many UDP,
 * TCP and ICMP flows over IPv4 and IPv6 and says what it sent; the router's
 * conntrack table is read with `conntrack -L`. specter runs in the router.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { NetNs, waitFor } from '../../../test/netns.js';

export interface SentFlow {
  proto: 'udp' | 'tcp' | 'icmp';
  family: 4 | 6;
  /** Client source port (UDP, TCP) or echo id (ICMP). */
  port: number;
  /** Payload bytes sent one way (UDP, ICMP: one datagram each way). */
  payload: number;
}

export interface CtEntry {
  family: 'ipv4' | 'ipv6';
  proto: string;
  id: number;
  orig: { [k: string]: string };
  reply: { [k: string]: string };
}

const SERVER = String.raw`
import socket, threading, sys
def udp(fam, addr):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((addr, 9000))
    while True:
        d, a = s.recvfrom(65535)
        s.sendto(d, a)
def tcp(fam, addr):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, 9000))
    s.listen(1024)
    while True:
        c, a = s.accept()
        def serve(c):
            d = c.recv(65535)
            c.sendall(d)
            c.close()
        threading.Thread(target=serve, args=(c,), daemon=True).start()
for f, a in ((socket.AF_INET, '10.20.0.2'), (socket.AF_INET6, 'fd20::2')):
    threading.Thread(target=udp, args=(f, a), daemon=True).start()
    threading.Thread(target=tcp, args=(f, a), daemon=True).start()
print('ready', flush=True)
threading.Event().wait()
`;

const CLIENT = String.raw`
import socket, struct, sys, json, time
n = json.loads(sys.argv[1])
out = []
def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
for fam, dst, ping_dst in ((4, '10.10.0.1', '10.20.0.2'), (6, 'fd10::1', 'fd20::2')):
    af = socket.AF_INET if fam == 4 else socket.AF_INET6
    # Each flow from a port of its own: a port used again would join the earlier flow's conntrack entry.
    base = 20000 if fam == 4 else 30000
    for i in range(n['udp%d' % fam]):
        s = socket.socket(af, socket.SOCK_DGRAM)
        s.bind(('', base + i))
        s.settimeout(2)
        payload = 10 + i % 50
        s.sendto(b'u' * payload, (dst, 8000))
        s.recv(65535)
        out.append({'proto': 'udp', 'family': fam, 'port': s.getsockname()[1], 'payload': payload})
        s.close()
    for i in range(n['tcp%d' % fam]):
        s = socket.create_connection((dst, 8000), timeout=2, source_address=('', base + 5000 + i))
        s.sendall(b't' * (20 + i % 30))
        while s.recv(65535): pass
        out.append({'proto': 'tcp', 'family': fam, 'port': s.getsockname()[1], 'payload': 20 + i % 30})
        s.close()
    for i in range(n['icmp%d' % fam]):
        ident = 1000 + i
        payload = 16 + i % 40
        if fam == 4:
            s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
            body = struct.pack('!BBHHH', 8, 0, 0, ident, 1) + b'p' * payload
            body = body[:2] + struct.pack('!H', csum(body)) + body[4:]
        else:
            s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
            body = struct.pack('!BBHHH', 128, 0, 0, ident, 1) + b'p' * payload
        s.settimeout(2)
        s.sendto(body, (ping_dst, 0))
        while True:
            d = s.recv(65535)
            t = d[20] if fam == 4 else d[0]
            i0 = 24 if fam == 4 else 4
            if t in (0, 129) and struct.unpack('!H', d[i0:i0 + 2])[0] == ident: break
        out.append({'proto': 'icmp', 'family': fam, 'port': ident, 'payload': payload})
        s.close()
print(json.dumps(out))
`;

export class NatLab {
  readonly router = new NetNs('spt-nfct-r');
  readonly client = new NetNs('spt-nfct-c');
  readonly server = new NetNs('spt-nfct-s');
  private serverProc: ChildProcess | null = null;

  constructor() {
    const link = (a: NetNs, an: string, b: NetNs, bn: string) => {
      execFileSync('ip', ['link', 'add', an, 'netns', a.name, 'type', 'veth', 'peer', 'name', bn, 'netns', b.name]);
      a.exec('ip', ['link', 'set', an, 'up']);
      b.exec('ip', ['link', 'set', bn, 'up']);
    };
    link(this.router, 'rc', this.client, 'c0');
    link(this.router, 'rs', this.server, 's0');
    const addr = (ns: NetNs, dev: string, ...a: string[]) => {
      for (const x of a) ns.exec('ip', ['addr', 'add', x, 'dev', dev, ...(x.includes(':') ? ['nodad'] : [])]);
    };
    addr(this.router, 'rc', '10.10.0.1/24', 'fd10::1/64');
    addr(this.router, 'rs', '10.20.0.1/24', 'fd20::1/64');
    addr(this.client, 'c0', '10.10.0.2/24', 'fd10::2/64');
    addr(this.server, 's0', '10.20.0.2/24', 'fd20::2/64');
    this.client.exec('ip', ['route', 'add', 'default', 'via', '10.10.0.1']);
    this.client.exec('ip', ['-6', 'route', 'add', 'default', 'via', 'fd10::1']);
    // The server has no route back: only the masquerade address answers, so SNAT must work.
    for (const [k, v] of [
      ['net.ipv4.ip_forward', '1'],
      ['net.ipv6.conf.all.forwarding', '1'],
      ['net.netfilter.nf_conntrack_acct', '1'],
      ['net.netfilter.nf_conntrack_timestamp', '1'],
      ['net.netfilter.nf_conntrack_udp_timeout', '2'],
      ['net.netfilter.nf_conntrack_icmp_timeout', '2'],
      ['net.netfilter.nf_conntrack_icmpv6_timeout', '2'],
    ])
      this.router.exec('sysctl', ['-qw', `${k}=${v}`]);
    this.router.nft(`table inet nat {
 chain pre {
  type nat hook prerouting priority dstnat;
  ip daddr 10.10.0.1 meta l4proto { tcp, udp } th dport 8000 dnat ip to 10.20.0.2:9000
  ip6 daddr fd10::1 meta l4proto { tcp, udp } th dport 8000 dnat ip6 to [fd20::2]:9000
 }
 chain post {
  type nat hook postrouting priority srcnat;
  oifname "rs" masquerade
 }
}
`);
  }

  async startServer(): Promise<void> {
    const p = this.server.spawn('python3', ['-u', '-c', SERVER]);
    this.serverProc = p;
    let out = '';
    p.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    p.stderr!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    await waitFor(() => out.includes('ready'), 5000, `the test server (${out})`);
  }

  /** Makes the flows; returns what was sent, one entry per flow. */
  traffic(n: { udp4: number; tcp4: number; icmp4: number; udp6: number; tcp6: number; icmp6: number }): SentFlow[] {
    return JSON.parse(this.client.exec('python3', ['-c', CLIENT, JSON.stringify(n)])) as SentFlow[];
  }

  /**
   * Whether every flow has ended. The kernel removes an expired entry (and sends its destroy event) when
   * its garbage collector comes by, which on a busy machine may be a minute later, or when a table listing
   * meets it: so this lists the table, at most once a second, which makes the timeouts end flows in time.
   */
  allEnded(): boolean {
    if (Date.now() - this.listedAt < 1000) return false;
    this.listedAt = Date.now();
    return this.table().length === 0;
  }

  private listedAt = 0;

  /** The router's conntrack table (`conntrack -L -o extended,id`, IPv4 and IPv6). */
  table(): CtEntry[] {
    const out: CtEntry[] = [];
    for (const f of ['ipv4', 'ipv6']) {
      const text = this.router.exec('conntrack', ['-L', '-f', f, '-o', 'extended,id']);
      for (const line of text.split('\n')) {
        const w = line.trim().split(/\s+/);
        if (w.length < 5 || (w[0] !== 'ipv4' && w[0] !== 'ipv6')) continue;
        const orig: { [k: string]: string } = {};
        const reply: { [k: string]: string } = {};
        let cur = orig;
        let id = 0;
        for (const x of w.slice(4)) {
          const [k, v] = x.split('=');
          if (v === undefined) continue;
          if (k === 'id') {
            id = Number(v);
            continue;
          }
          if (k === 'src' && 'src' in orig) cur = reply;
          cur[k] = v;
        }
        out.push({ family: w[0] as 'ipv4' | 'ipv6', proto: w[2], id, orig, reply });
      }
    }
    return out;
  }

  close(): void {
    this.serverProc?.kill('SIGKILL');
    for (const ns of [this.client, this.server, this.router]) ns.delete();
  }
}
