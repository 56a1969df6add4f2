import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { collectFiles } from '../../src/transfer/source-files';
import { tempDir } from './helpers';

test('non-UTF-8 name is skipped', { skip: process.platform !== 'linux' && 'needs a file system that stores raw bytes' }, async () => {
  const dir = await tempDir('names');
  try {
    const folder = path.join(dir, 'mixed');
    await fs.mkdir(folder);
    await fs.writeFile(path.join(folder, 'fine.txt'), 'fine');
    // 0xff never occurs in UTF-8.
    await fs.writeFile(Buffer.concat([Buffer.from(folder + '/bad'), Buffer.from([0xff]), Buffer.from('.txt')]), 'bad');

    const { files, skipped } = await collectFiles([folder]);
    assert.deepEqual(files.map((file) => file.relativePath), ['mixed/fine.txt']);
    assert.equal(skipped.length, 1);
    assert.match(skipped[0].reason, /not valid UTF-8/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
