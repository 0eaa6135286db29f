/**
 * Test helper: runs the specter daemon as a child process inside a network
 * namespace, with a config written to a temporary directory.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NetNs } from './netns.js';
import { waitFor } from './netns.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fromSource = import.meta.url.endsWith('.ts');
/** The CLI entry and the node arguments to run it, from the compiled tree or (under tsx) the sources. */
export const CLI = fromSource ? path.join(here, '..', 'bin', 'specter.ts') : path.join(here, '..', 'bin', 'specter.js');
export const NODE_ARGS = fromSource ? ['--import', 'tsx'] : [];
/** The repository root (fixtures live in its test/fixtures/). */
export const ROOT = fromSource ? path.join(here, '..') : path.join(here, '..', '..');

export function tempDir(prefix = 'specter-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export class Daemon {
  readonly proc: ChildProcess;
  stderr = '';
  stdout = '';
  private exited: Promise<number | null>;

  /** `entry`: the command to run, by default this tree's (an installed copy's, say). */
  constructor(
    ns: NetNs,
    readonly configFile: string,
    extraArgs: string[] = [],
    entry = CLI,
  ) {
    this.proc = ns.spawn(process.execPath, [...(entry === CLI ? NODE_ARGS : []), entry, '-c', configFile, ...extraArgs]);
    this.proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
    });
    this.proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      this.stdout += d;
    });
    this.exited = new Promise((resolve) => this.proc.on('exit', (code) => resolve(code)));
  }

  /** Waits until the daemon logs that it is reading (the config must log to stderr at loglevel ≤ 4). */
  async started(ms = 10000): Promise<void> {
    let code: number | null | undefined;
    void this.exited.then((c) => {
      code = c;
    });
    await waitFor(
      () => {
        if (code !== undefined) throw new Error(`daemon exited with ${code}: ${this.stderr}`);
        return this.stderr.includes('specter started');
      },
      ms,
      'the daemon to start',
    );
  }

  /** The last counters the daemon logged for a component ("JSON", "NFLOG group 1") of a group. */
  counters(component: string, group?: number): { [k: string]: number } | undefined {
    return this.stderr
      .split('\n')
      .filter((l) => l.includes('"counters"'))
      .map((l) => JSON.parse(l))
      .filter((o) => o.component === component && (group === undefined || o.group === group))
      .at(-1);
  }

  signal(sig: NodeJS.Signals): void {
    this.proc.kill(sig);
  }

  /** SIGTERM and wait for the exit code. */
  async stop(ms = 10000): Promise<number | null> {
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), ms);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  wait(): Promise<number | null> {
    return this.exited;
  }
}

/** Writes a config file in `dir` and returns its path. */
export function writeConfig(dir: string, text: string, name = 'specter.conf'): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}
