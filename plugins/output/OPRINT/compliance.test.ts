/** OPRINT against the component contract: every record written, counted and committed. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { checkCompliance } from '../../../test/compliance.js';
import { tempDir } from '../../../test/daemon.js';

const dir = tempDir('specter-oprint-compliance-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('OPRINT compliance', () => {
  it('writes, counts and commits every record', async () => {
    const file = path.join(dir, 'oprint.txt');
    await checkCompliance('OPRINT', { dumpfile: file }, { expect: { sent: 300, dropped: 0, errors: 0 } });
    const text = fs.readFileSync(file, 'utf8');
    assert.equal(text.split('===>PACKET BOUNDARY\n').length - 1, 600);
  });
});
