#!/usr/bin/env node
/*
 * The `netlink` package closes the socket, and aborts the process, when poll
 * reports a socket error: that is how the kernel flags ENOBUFS (it dropped
 * datagrams because our receive buffer was full). specter must count that
 * and keep reading, so this postinstall step rebuilds the addon with that one
 * case changed: on a poll error, read, so recvmsg returns ENOBUFS through the
 * socket's `error` event and the socket stays open.
 *
 * It also lets setRecvBufferSize use SO_RCVBUFFORCE when the process may
 * (root or CAP_NET_ADMIN), so the buffer is not capped by net.core.rmem_max,
 * as ulogd2 does; without the capability it falls back to SO_RCVBUF.
 *
 * And it adds setPaused(bool): while paused the socket is not read, so an
 * output that is behind (a disk slower than the traffic) leaves the packets
 * waiting in the kernel's receive buffer instead of in the daemon's memory.
 * Idempotent.
 */
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const dir = path.dirname(require.resolve('netlink/package.json'));
const file = path.join(dir, 'src', 'binding.cc');
const src = fs.readFileSync(file, 'utf8');
const broken = /if \(status != 0\) \{\s*auto error = ErrnoException\(obj->Env\(\), -status, NULL, "error when polling socket"\);\s*obj->error_callback\.MakeCallback\(obj->Value\(\), \{ error\.Value\(\) \}, \*obj->async_res\);\s*obj->DoClose\(\);\s*return;\s*\}/;
// libuv stops the poll handle on a socket error, so it is started again after the read.
const fixed = 'if (status != 0) {\n            // specter: a socket error (ENOBUFS) is reported by the next recvmsg; keep the socket.\n            obj->Recvmsg();\n            if (obj->fd != -1) obj->watcher->start(obj->Env(), UV_READABLE, PollHandler);\n            return;\n        }';

const plainRcvbuf = 'if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)))\n            throw ErrnoException(env, errno, "setsockopt", "Couldn\'t set receive buffer size");';
const forcedRcvbuf = 'if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)))\n            throw ErrnoException(env, errno, "setsockopt", "Couldn\'t set receive buffer size");';

let patched = src;
if (broken.test(patched)) patched = patched.replace(broken, fixed);
else if (!patched.includes('specter: a socket error (ENOBUFS)')) throw new Error('netlink binding.cc is not the version this patch knows');
if (patched.includes(plainRcvbuf)) patched = patched.replace(plainRcvbuf, forcedRcvbuf);
else if (!patched.includes(forcedRcvbuf)) throw new Error('netlink binding.cc is not the version this patch knows (SetRecvBufferSize)');
if (!patched.includes('SetPaused')) {
  const edits = [
    ['watcher->start(Env(), UV_READABLE, PollHandler);', 'watcher->start(Env(), paused ? 0 : UV_READABLE, PollHandler);'],
    ['watcher->start(env, UV_READABLE | UV_WRITABLE, PollHandler);', 'watcher->start(env, (paused ? 0 : UV_READABLE) | UV_WRITABLE, PollHandler);'],
    ['if (obj->fd != -1) obj->watcher->start(obj->Env(), UV_READABLE, PollHandler);',
      'if (obj->fd != -1) obj->watcher->start(obj->Env(), (obj->paused ? 0 : UV_READABLE) | (obj->write_queue.empty() ? 0 : UV_WRITABLE), PollHandler);'],
    ['while (count-- > 0) {', 'while (count-- > 0 && !paused) {'],
    ['    bool processing = false;', '    bool processing = false;\n    bool paused = false;'],
    ['InstanceMethod<&Socket::Unref_>("unref"),', 'InstanceMethod<&Socket::Unref_>("unref"),\n            InstanceMethod<&Socket::SetPaused>("setPaused"),'],
    ['    void SetRecvBufferSize(const CallbackInfo& info) {', [
      '    // specter: stop or resume reading; writes (configuration requests) go on either way.',
      '    void SetPaused(const CallbackInfo& info) {',
      '        Napi::Env env = info.Env();',
      '        CheckOpen(env);',
      '        paused = info[0].ToBoolean();',
      '        watcher->start(env, (paused ? 0 : UV_READABLE) | (write_queue.empty() ? 0 : UV_WRITABLE), PollHandler);',
      '    }',
      '',
      '    void SetRecvBufferSize(const CallbackInfo& info) {',
    ].join('\n')],
  ];
  for (const [from, to] of edits) {
    if (!patched.includes(from)) throw new Error(`netlink binding.cc is not the version this patch knows (${from})`);
    patched = patched.split(from).join(to);
  }
}
if (patched !== src) fs.writeFileSync(file, patched);

if (!fs.existsSync(path.join(dir, 'build', 'Release', 'netlink_binding.node')) || patched !== src) {
  const gyp = process.env.npm_config_node_gyp || require.resolve('node-gyp/bin/node-gyp.js', { paths: [path.dirname(process.execPath) + '/../lib/node_modules/npm'] });
  // Build against the local Node headers when npm is configured with them (no download).
  const nodedir = process.env.npm_config_nodedir || readNpmrc('nodedir');
  execFileSync(process.execPath, [gyp, 'rebuild', ...(nodedir ? [`--nodedir=${nodedir}`] : [])], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
}

function readNpmrc(key) {
  for (const f of [path.join(require('node:os').homedir(), '.npmrc'), '/etc/npmrc', '/usr/etc/npmrc']) {
    try {
      const m = new RegExp(`^\\s*${key}\\s*=\\s*(.+)$`, 'm').exec(fs.readFileSync(f, 'utf8'));
      if (m) return m[1].trim();
    } catch {
      // no such file
    }
  }
  return '';
}
