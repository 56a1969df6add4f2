import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ProtocolClient } from './protocol-client';
import { startReceiver, tempDir } from './helpers';

/** [name, path, expected outcome]: 'reject' or 'store'. */
const CASES: [string, string, 'reject' | 'store'][] = [
  ['escape.txt', '../escape.txt', 'reject'],
  ['..', 'folder/..', 'reject'],
  ['x', 'folder/../../x', 'reject'],
  ['passwd', '/etc/passwd', 'reject'],
  ['x.txt', 'C:\\Windows\\x.txt', 'reject'],
  ['x.txt', 'C:x.txt', 'reject'],
  ['x.txt', '\\\\server\\share\\x.txt', 'reject'],
  ['..\\..\\x', '..\\..\\x', 'reject'],
  ['CON', 'CON', 'store'],
  ['nul.txt', 'folder/nul.txt', 'store'],
  ['COM1', 'lpt1/COM1', 'store'],
  ['a<b>c:d"e|f?g*.txt', 'a<b>c:d"e|f?g*.txt', 'store'],
  ['trailing. . ', 'dir. /trailing. . ', 'store'],
  ['ctrl\u0001\u001b[31mred.txt', 'ctrl\u0001\u001b[31mred.txt', 'store'],
  ['nul\u0000byte.txt', 'nul\u0000byte.txt', 'store'],
  ['evil\u202etxt.exe', 'evil\u202etxt.exe', 'store'],
  ['長'.repeat(100) + '.txt', '長'.repeat(100) + '.txt', 'store'],
  ['cafe\u0301.txt', 'cafe\u0301.txt', 'store'],
  ['café.txt', 'café.txt', 'store'],
  ['', '', 'store'],
  ['', 'folder//', 'store'],
];

test('hostile names stored safely in store', async () => {
  const parent = await tempDir('names');
  const storeDir = path.join(parent, 'store');
  const target = await startReceiver({ storeDir });
  try {
    const client = await ProtocolClient.connect(target.port);
    const publicKey = await client.login();
    let stored = 0;
    for (const [name, relative, expected] of CASES) {
      const label = JSON.stringify([name, relative]);
      const answer = await client.upload(publicKey, name, relative, Buffer.from(`content of ${label}`));
      if (expected === 'reject') {
        assert.equal(answer.type, 'reject', label);
        assert.equal(answer.type === 'reject' ? answer.code : '', 'NAME_INVALID', label);
      } else {
        assert.equal(answer.type, 'confirmed', `${label}: ${JSON.stringify(answer)}`);
        stored++;
      }
    }
    await client.close();

    // Nothing was written beside the store.
    assert.deepEqual(await fs.readdir(parent), ['store']);
    const files = await fs.readdir(path.join(storeDir, 'files'));
    assert.equal(files.length, stored * 2);
    for (const file of files) {
      assert.match(file, /^[0-9a-f]{32}\.(sft|json)$/);
    }

    const entries = target.store.list();
    assert.equal(entries.length, stored);
    const ids = new Set(entries.map((entry) => entry.id));
    assert.equal(ids.size, stored, 'no entry overwrote another');
    for (const entry of entries) {
      const shown = entry.displayName;
      assert.ok(shown.length > 0, 'a display name is never empty');
      assert.ok(Buffer.byteLength(shown, 'utf8') <= 255, shown);
      assert.doesNotMatch(shown, /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069/\\<>:"|?*]/, shown);
      assert.doesNotMatch(shown, /[. ]$/, shown);
      assert.notEqual(shown.toUpperCase(), 'CON');
      assert.notEqual(shown, '..');
      for (const segment of entry.relativePath.split('/')) {
        assert.notEqual(segment, '..', entry.relativePath);
      }
      assert.ok(!path.isAbsolute(entry.relativePath), entry.relativePath);
    }
  } finally {
    await target.stop();
    await fs.rm(parent, { recursive: true, force: true });
  }
});
