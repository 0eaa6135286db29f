/**
 * Test helper: ulogd2's SQL schema files exactly as Debian ships them
 * (`pgsql-ulogd2-flat.sql`, `mysql-ulogd2-flat.sql`, `pgsql-ulogd2.sql`,
 * `sqlite3.table`, ...). Taken from /usr/share/doc/ulogd2 when ulogd2 is
 * installed, else from the `ulogd2` package fetched with `apt-get download`
 * and unpacked with `dpkg -x` into a temporary folder. Never copied into the
 * repository. Throws, naming what failed, when neither works.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';

const DOC = 'usr/share/doc/ulogd2';
let fetched: Map<string, Buffer> | null = null;

/** The SQL text of one of ulogd2's schema files, by its name without `.gz`. */
export function ulogd2Schema(name: string): string {
  const installed = read(path.join('/', DOC), name);
  if (installed) return installed;
  fetched ??= fetchPackage();
  const data = fetched.get(name) ?? (fetched.has(`${name}.gz`) ? zlib.gunzipSync(fetched.get(`${name}.gz`)!) : null);
  if (!data) throw new Error(`the Debian ulogd2 package has no ${name} (it has: ${[...fetched.keys()].join(', ')})`);
  return data.toString('utf8');
}

function read(dir: string, name: string): string | null {
  const plain = path.join(dir, name);
  if (fs.existsSync(plain)) return fs.readFileSync(plain, 'utf8');
  if (fs.existsSync(`${plain}.gz`)) return zlib.gunzipSync(fs.readFileSync(`${plain}.gz`)).toString('utf8');
  return null;
}

/** Every file of ulogd2's doc folder, from the package downloaded now. */
function fetchPackage(): Map<string, Buffer> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ulogd2-deb-'));
  try {
    const download = () => execFileSync('apt-get', ['download', '-q', 'ulogd2'], { cwd: tmp, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    try {
      download();
    } catch {
      // A fresh machine may have no package lists yet.
      try {
        execFileSync('apt-get', ['update', '-q'], { stdio: ['ignore', 'ignore', 'pipe'] });
        download();
      } catch (err) {
        const why = ((err as { stderr?: string }).stderr || (err as Error).message).trim().split('\n').at(-1);
        throw new Error(
          `cannot get ulogd2's SQL schemas: ulogd2 is not installed and "apt-get download ulogd2" failed (${why}); install ulogd2 or give apt-get access to a Debian mirror`,
        );
      }
    }
    const deb = fs.readdirSync(tmp).find((f) => f.endsWith('.deb'));
    if (!deb) throw new Error('cannot get ulogd2\'s SQL schemas: "apt-get download ulogd2" left no .deb file');
    execFileSync('dpkg', ['-x', deb, 'x'], { cwd: tmp });
    const dir = path.join(tmp, 'x', DOC);
    return new Map(
      fs
        .readdirSync(dir)
        .filter((f) => fs.statSync(path.join(dir, f)).isFile())
        .map((f) => [f, fs.readFileSync(path.join(dir, f))]),
    );
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
