/** The daemon's log file: a failed reopen keeps the old file and says so; a deleted file is opened anew. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createLog } from '../../src/logger.js';
import { tempDir } from '../daemon.js';

const messages = (file: string) =>
  fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l).msg as string);

describe('daemon log file', () => {
  it('keeps logging to the old file when a reopen fails, says so, and reopens at the next try', async () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'specter.log');
      const dlog = createLog(file, 3);
      dlog.log.info('one');
      // logrotate moved the file and the path cannot be opened (EISDIR fails even for root).
      fs.renameSync(file, `${file}.1`);
      fs.mkdirSync(file);
      dlog.reopen();
      await new Promise((r) => setImmediate(r));
      dlog.log.info('two');
      const old = messages(`${file}.1`);
      assert.equal(old.length, 3);
      assert.equal(old[0], 'one');
      assert.match(old[1], /^cannot reopen the log file .*specter\.log: EISDIR.*still logging to the previous file, trying again at the next SIGHUP$/);
      assert.equal(old[2], 'two');
      fs.rmdirSync(file);
      dlog.reopen();
      dlog.log.info('three');
      assert.deepEqual(messages(file), ['three']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('opens a deleted log file anew within a second', async () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'specter.log');
      const dlog = createLog(file, 3);
      dlog.log.info('one');
      fs.unlinkSync(file);
      await new Promise((r) => setTimeout(r, 1100));
      dlog.log.info('two');
      assert.deepEqual(messages(file), ['two']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
