/** BASE's slot index table K names every key of BASE_KEYS at its position, and nothing else. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BASE_KEYS, K } from '../../shared/packet/keys.js';

test('K[NAME] is the index of the key NAME spells (ip.saddr.str is IP_SADDR_STR)', () => {
  const spelled = BASE_KEYS.map((k) => k.name.toUpperCase().replace(/\./g, '_'));
  assert.deepEqual(
    Object.entries(K).sort((a, b) => a[1] - b[1]),
    spelled.map((name, i) => [name, i]),
  );
});
