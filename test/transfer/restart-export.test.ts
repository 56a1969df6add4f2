import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parsePrivateKey } from '../../src/crypto';
import { isSftError } from '../../src/errors';
import { Store } from '../../src/storage/store';
import { exportEntryToZip } from '../../src/transfer/export-entry';
import { sendFiles } from '../../src/transfer/sender';
import { PASSPHRASE, sendOptions, sha256File, sharedKeys, startReceiver, tempDir, writeRandomFile } from './helpers';

const ZIP_PASSWORD = 'zip password for tests';

/** Extracts `zip` with 7-Zip into a new folder and returns the folder. */
async function extractWith7z(zip: string, password: string): Promise<string> {
  const out = await tempDir('7z');
  execFileSync('7z', ['x', `-p${password}`, `-o${out}`, '-y', zip], { stdio: 'pipe' });
  return out;
}

test('restart keeps list and every entry exports', async () => {
  const source = await tempDir('source');
  const first = await startReceiver();
  const storeDir = first.storeDir;
  const work = await tempDir('work');
  try {
    const expected = new Map<string, string>();
    expected.set('one.bin', await writeRandomFile(path.join(source, 'one.bin'), 150_000, 11));
    expected.set('docs/readme.txt', await writeRandomFile(path.join(source, 'docs', 'readme.txt'), 5_000, 12));
    expected.set('docs/deep/data.bin', await writeRandomFile(path.join(source, 'docs', 'deep', 'data.bin'), 700_000, 13));
    expected.set('docs/empty', await writeRandomFile(path.join(source, 'docs', 'empty'), 0, 14));
    const result = await sendFiles(await sendOptions(first.port, [path.join(source, 'one.bin'), path.join(source, 'docs')]));
    assert.deepEqual(result.files.map((file) => file.status), ['delivered', 'delivered', 'delivered', 'delivered']);
    const before = first.store.list();
    await first.stop();

    const second = await startReceiver({ storeDir });
    try {
      assert.deepEqual(second.store.list(), before);
    } finally {
      await second.stop();
    }

    // A read-only store, as "sft list" and "sft export" open it beside a running receiver.
    const store = await Store.open(storeDir, { readOnly: true });
    const privateKey = parsePrivateKey((await sharedKeys()).envelopePrivateKeyPem, undefined);
    for (const entry of store.list()) {
      const zip = path.join(work, `${entry.id}.zip`);
      const exported = await exportEntryToZip(store, entry.id, { outPath: zip, passphrase: PASSPHRASE, privateKey, zipPassword: ZIP_PASSWORD });
      const name = entry.relativePath || entry.displayName;
      assert.equal(exported.zipEntryName, name);
      const out = await extractWith7z(zip, ZIP_PASSWORD);
      assert.equal(await sha256File(path.join(out, ...name.split('/'))), expected.get(name), name);
      await fs.rm(out, { recursive: true, force: true });
    }

    // A wrong passphrase fails before a ZIP appears.
    const entry = store.list()[0];
    const badZip = path.join(work, 'bad.zip');
    await assert.rejects(
      exportEntryToZip(store, entry.id, { outPath: badZip, passphrase: 'wrong', privateKey, zipPassword: ZIP_PASSWORD }),
      (error) => isSftError(error, 'ENVELOPE_WRONG_PASSPHRASE'),
    );
    await assert.rejects(fs.stat(badZip), { code: 'ENOENT' });
    await assert.rejects(
      exportEntryToZip(store, 'ffffffff', { outPath: badZip, passphrase: PASSPHRASE, privateKey, zipPassword: ZIP_PASSWORD }),
      (error) => isSftError(error, 'STORE_ENTRY_NOT_FOUND'),
    );
    await store.close();
  } finally {
    await fs.rm(source, { recursive: true, force: true });
    await fs.rm(work, { recursive: true, force: true });
    await fs.rm(storeDir, { recursive: true, force: true });
  }
});
