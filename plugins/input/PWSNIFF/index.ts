/**
 * PWSNIFF: user names and passwords of cleartext logins (FTP and POP3
 * USER/PASS, IMAP LOGIN) seen in TCP payloads. Packets without a login
 * command pass through untouched.
 */
import { defineInput } from 'specter/plugin';
import { parseLogin } from './login.js';
import { tcpPayload } from './tcp-payload.js';

export default defineInput({
  name: 'PWSNIFF',
  description: 'user names and passwords of cleartext FTP, POP3 and IMAP logins',
  options: {
    pwsniff_ports: { type: 'string', default: '21,110,143', description: 'TCP destination ports to look at, comma-separated' },
  },
  produces: [
    { name: 'pwsniff.user', type: 'string', description: 'user name of a USER or LOGIN command' },
    { name: 'pwsniff.pass', type: 'string', description: 'password of a PASS or LOGIN command' },
  ],
  create(ctx) {
    const user = ctx.want('pwsniff.user');
    const pass = ctx.want('pwsniff.pass');
    const ports = new Set<number>();
    for (const p of ctx.options.pwsniff_ports.split(',')) {
      const n = Number(p.trim());
      if (!Number.isInteger(n) || n < 1 || n > 65535) ctx.fail(`"${p.trim()}" is not a port number`, 'pwsniff_ports');
      ports.add(n);
    }
    const seg = { dport: 0, start: 0, end: 0 };
    return {
      process(pkt, rec) {
        if (!user && !pass) return;
        if (!tcpPayload(pkt, seg) || !ports.has(seg.dport) || seg.end === seg.start) return;
        const login = parseLogin(pkt.buf, seg.start, seg.end);
        if (!login) return;
        if (user && login.user !== undefined) rec.set(user, login.user);
        if (pass && login.pass !== undefined) rec.set(pass, login.pass);
      },
    };
  },
});
