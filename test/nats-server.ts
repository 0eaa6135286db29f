/**
 * Test helper: a nats-server with JetStream of the test's own, in the test's
 * network namespace, on a port of its own, storing under a temporary
 * directory so that it can be killed and started again on the same store.
 */
import type { ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import type { NetNs } from './netns.js';
import { waitFor } from './netns.js';

export class NatsServer {
  readonly port = randomInt(20000, 60000);
  proc: ChildProcess | null = null;
  log = '';
  /** More configuration (authorization, tls, operator...): when set, the server starts from a file holding it. */
  config = '';

  constructor(
    private readonly ns: NetNs,
    readonly storeDir: string,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.log = '';
    const args = this.config ? ['-c', this.writeConfig()] : ['-js', '-sd', this.storeDir, '-a', '127.0.0.1', '-p', String(this.port)];
    const proc = this.ns.spawn('nats-server', args);
    this.proc = proc;
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.log += d;
    });
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      this.log += d;
    });
    await waitFor(
      () => {
        if (proc.exitCode !== null) throw new Error(`nats-server exited: ${this.log}`);
        return this.log.includes('Server is ready');
      },
      15000,
      'nats-server to start',
    );
  }

  private writeConfig(): string {
    const file = `${this.storeDir}.conf`;
    fs.writeFileSync(file, `listen: "127.0.0.1:${this.port}"\njetstream { store_dir: ${JSON.stringify(this.storeDir)} }\n${this.config}\n`);
    return file;
  }

  /** Has the running server read `config` (written anew) again, as `nats-server --signal reload` does. */
  async reload(): Promise<void> {
    const before = this.log.split('Reloaded server configuration').length;
    this.writeConfig();
    this.proc!.kill('SIGHUP');
    await waitFor(() => this.log.split('Reloaded server configuration').length > before, 10000, 'nats-server to reload its configuration');
  }

  /** Stops the server (SIGKILL by default: no goodbye to its clients) and waits for it to be gone. */
  async stop(sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill(sig);
    await gone;
    this.proc = null;
  }
}
