/** The command line: --check, version, usage, and one clear line for every kind of bad configuration. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { CLI, NODE_ARGS, tempDir, writeConfig } from '../daemon.js';

const dir = tempDir('specter-cli-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function run(args: string[]) {
  const r = spawnSync(process.execPath, [...NODE_ARGS, CLI, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const GOOD = 'global {\n logfile stderr\n}\n1 {\n plugin BASE\n plugin LOGEMU\n logemufile /tmp/x.log\n qthreshold 10\n}\n';

describe('specter --check', () => {
  it("prints each group's pipeline with the keys read and written, and opens nothing", () => {
    const r = run(['-c', writeConfig(dir, GOOD, 'good.conf'), '--check']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^group 1: NFLOG nlbufsiz=131072 qthreshold=10 /m);
    assert.match(r.stdout, /^ {2}input {2}BASE +writes .*\boob\.prefix\b/m);
    assert.match(r.stdout, /^ {2}input {2}BASE +writes .*\braw\.pkt\b/m);
    assert.match(r.stdout, /^ {2}output LOGEMU +reads .*\bmac\.str\b/m);
    assert.doesNotMatch(r.stdout, /input +BASE +writes .*\btcp\.dport\b/, 'BASE decodes only what LOGEMU reads');
    assert.ok(!fs.existsSync('/tmp/x.log') || fs.statSync('/tmp/x.log').size >= 0);
  });

  it('answers -V and -h, and rejects unknown arguments with usage', () => {
    assert.match(run(['-V']).stdout, /^specter \d+\.\d+\.\d+\n$/);
    assert.match(run(['-h']).stdout, /Usage: specter/);
    const r = run(['--bogus']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^specter: Unknown option '--bogus'/);
  });
});

// Twenty broken configurations: each must give exactly one line naming file, line and column.
const BAD: Array<[string, string, string, RegExp]> = [
  ['a.conf', 'logfile x\n', ':1:1:', /outside a block/],
  ['b.conf', '1 {\n plugin BASE\n', ':1:1:', /not closed/],
  ['c.conf', '1 {\n plugin NOPE\n}\n', ':2:9:', /unknown plugin "NOPE"/],
  ['d.conf', '1 {\n plugin BASE\n plugin LOGEMU\n logemufil /x\n}\n', ':4:2:', /unknown option "logemufil".*LOGEMU \(logemufile, logemusync\)/],
  ['e.conf', '1 {\n plugin BASE\n plugin LOGEMU\n logemusync perhaps\n}\n', ':4:13:', /LOGEMU option "logemusync": expected a boolean/],
  ['f.conf', '1 {\n plugin LOCAL\n plugin LOGEMU\n}\n', ':3:9:', /LOGEMU: reads key "oob.prefix", which no input of group 1 produces \(inputs: LOCAL\)/],
  ['g.conf', 'global {\n loglevel 9\n}\n', ':2:11:', /out of range 1-8/],
  ['h.conf', 'global {\n loglvl 3\n}\n', ':2:2:', /unknown global option "loglvl"/],
  ['i.conf', '1 {\n plugin BASE\n}\n', ':1:1:', /no output plugin/],
  ['j.conf', '1 {\n plugin BASE\n plugin OPRINT\n qthreshold many\n}\n', ':4:13:', /expected an integer/],
  ['k.conf', '1 {\n plugin BASE\n plugin OPRINT\n copymode all\n}\n', ':4:11:', /expected one of packet, meta, none/],
  ['l.conf', '1 {\n plugin BASE\n plugin OPRINT\n nlbufsiz 1M\n}\n', ':4:11:', /out of range 4096-131072/],
  ['m.conf', '1 {\n}\n1 {\n}\n', ':3:1:', /defined twice/],
  ['n.conf', 'x1 {\n}\n', ':1:1:', /not a block name/],
  ['o.conf', '1 {\n plugin "BASE\n}\n', ':2:9:', /unterminated quoted string/],
  ['p.conf', 'global {\n plugin BASE\n}\n', ':2:2:', /belongs in a group block/],
  ['q.yaml', 'groups:\n  1:\n    plugins: BASE\n', ':3:14:', /must be a list/],
  [
    'r.yaml',
    'groups:\n  1:\n    plugins:\n      - BASE\n      - LOGEMU: { logemufile: /x, sync: 1 }\n',
    ':5:35:',
    /unknown option "sync": plugin LOGEMU takes logemufile, logemusync/,
  ],
  ['s.conf', '1 {\n plugin ./no-such-module.js\n}\n', ':2:9:', /cannot load plugin module/],
  ['t.conf', '1 {\n plugin BASE\n plugin OPRINT\n dumpfile\n}\n', ':4:2:', /OPRINT option "dumpfile": expected a value/],
  ['u.conf', '1 {\n source NFCT\n plugin IPFIX\n}\n', ':3:9:', /IPFIX needs option "ipfixhost"/],
];

describe('bad configurations', () => {
  for (const [name, text, where, msg] of BAD) {
    it(`${name}: ${msg.source.slice(0, 40)}`, () => {
      const file = writeConfig(dir, text, name);
      const r = run(['-c', file, '--check']);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
      const out = r.stderr.trimEnd();
      assert.ok(!out.includes('\n'), `one line, got:\n${out}`);
      assert.ok(out.startsWith(`${file}${where} `), out);
      assert.match(out, msg);
      assert.doesNotMatch(out, /\bat .*\(.*:\d+:\d+\)/, 'no stack trace');
    });
  }

  it('names a missing configuration file', () => {
    const r = run(['-c', path.join(dir, 'missing.conf')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^cannot read configuration .*missing\.conf: no such file\n$/);
  });
});

describe('a reader that closes early', () => {
  // Through a shell, as a user types it; the exit status is specter's own (PIPESTATUS[0]).
  function piped(args: string[], reader: string) {
    const cmd = `${[process.execPath, ...NODE_ARGS, CLI, ...args].map((a) => `'${a}'`).join(' ')} | ${reader}; exit \${PIPESTATUS[0]}`;
    const r = spawnSync('bash', ['-c', cmd], { encoding: 'utf8' });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  // 300 groups: far more --check output than a pipe holds, so the writes outlive `head`.
  let big = 'global {\n logfile stderr\n}\n';
  for (let g = 1; g <= 300; g++) big += `${g} {\n plugin BASE\n plugin OPRINT\n dumpfile /tmp/never-opened-${g}\n}\n`;
  const bigConf = writeConfig(dir, big, 'big.conf');

  it("--check | head -1 ends quietly with the check's status", () => {
    assert.ok(run(['-c', bigConf, '--check']).stdout.length > 4 * 65536, 'the output must overflow the pipe');
    const r = piped(['-c', bigConf, '--check'], 'head -1');
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^group 1: NFLOG .*\n$/);
    assert.equal(r.code, 0);
  });

  it('--help | head -1, and a reader that closed before anything was written, end quietly', () => {
    let r = piped(['--help'], 'head -1');
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, 'Usage: specter [options]\n');
    assert.equal(r.code, 0);
    // The reader closes its end at once, long before node has started: the write itself fails.
    r = piped(['--help'], '{ exec 0<&-; sleep 0.5; }');
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
  });
});
