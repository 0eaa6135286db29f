/**
 * A proxy in front of a database server (TCP or a Unix socket), for tests: it
 * can stall the connections it carries (stop forwarding, keep them open: a
 * half-open link), cut them, or call a hook on every chunk either way, which
 * may keep the chunk from going on. (Test code.)
 */
import net from 'node:net';

export class TcpProxy {
  private readonly server: net.Server;
  private readonly links = new Set<{ client: net.Socket; server: net.Socket; stalled: boolean }>();
  /** Called with each chunk before it is forwarded; false keeps it from going on. */
  onData: ((from: 'client' | 'server', chunk: Buffer) => boolean | void) | null = null;

  constructor(target: { host: string; port: number } | { path: string }) {
    this.server = net.createServer((client) => {
      const server = net.connect(target);
      const link = { client, server, stalled: false };
      this.links.add(link);
      const forward = (from: 'client' | 'server', to: net.Socket) => (chunk: Buffer) => {
        if (link.stalled || this.onData?.(from, chunk) === false) return;
        if (!to.destroyed) to.write(chunk);
      };
      client.on('data', forward('client', server));
      server.on('data', forward('server', client));
      const end = () => {
        this.links.delete(link);
        client.destroy();
        server.destroy();
      };
      client.on('close', end).on('error', end);
      server.on('close', end).on('error', end);
    });
  }

  /** Listens on a Unix socket path, or on a free TCP port of 127.0.0.1 (returned). */
  async listen(path?: string): Promise<number> {
    await new Promise<void>((resolve) => (path ? this.server.listen(path, resolve) : this.server.listen(0, '127.0.0.1', resolve)));
    return path ? 0 : (this.server.address() as net.AddressInfo).port;
  }

  get connections(): number {
    return this.links.size;
  }

  /** The connections open now stop forwarding anything, and stay open; new ones work. */
  stall(): void {
    for (const l of this.links) l.stalled = true;
  }

  /** Every connection open now is closed at once. */
  cut(): void {
    for (const l of this.links) {
      l.client.destroy();
      l.server.destroy();
    }
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
