import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { decryptFile, parsePrivateKey } from '../../src/crypto';
import { sendFiles } from '../../src/transfer/sender';
import { PASSPHRASE, USER, sendOptions, sha256File, sharedKeys, startReceiver, tempDir, writeRandomFile } from './helpers';

test('files and folder delivered and decrypt', async () => {
  const target = await startReceiver();
  const source = await tempDir('source');
  try {
    const expected = new Map<string, string>();
    expected.set('single.bin', await writeRandomFile(path.join(source, 'single.bin'), 200_000, 1));
    expected.set('empty.txt', await writeRandomFile(path.join(source, 'empty.txt'), 0, 2));
    expected.set('folder/a.txt', await writeRandomFile(path.join(source, 'folder', 'a.txt'), 65_536, 3));
    expected.set('folder/sub/b.bin', await writeRandomFile(path.join(source, 'folder', 'sub', 'b.bin'), 1_000_001, 4));

    const result = await sendFiles(
      await sendOptions(target.port, [path.join(source, 'single.bin'), path.join(source, 'empty.txt'), path.join(source, 'folder')]),
    );
    assert.equal(result.files.length, 4);
    for (const file of result.files) {
      assert.equal(file.status, 'delivered', file.file.relativePath);
    }

    const entries = target.store.list();
    assert.equal(entries.length, 4);
    const byPath = new Map(entries.map((entry) => [entry.relativePath || entry.displayName, entry]));
    assert.deepEqual([...byPath.keys()].sort(), [...expected.keys()].sort());

    const keys = await sharedKeys();
    const privateKey = parsePrivateKey(keys.envelopePrivateKeyPem, undefined);
    const out = await tempDir('out');
    for (const [relative, hash] of expected) {
      const entry = byPath.get(relative);
      assert.ok(entry, relative);
      assert.equal(entry.senderUsername, USER);
      assert.equal(entry.remoteAddress, '127.0.0.1');
      const envelopePath = path.join(target.storeDir, 'files', `${entry.id}.sft`);
      const plain = path.join(out, entry.id);
      await decryptFile(envelopePath, plain, { passphrase: PASSPHRASE, privateKeys: [privateKey] });
      assert.equal(await sha256File(plain), hash, relative);
      assert.equal(await sha256File(envelopePath), entry.sha256);
    }
    await fs.rm(out, { recursive: true, force: true });
  } finally {
    await target.stop();
    await fs.rm(source, { recursive: true, force: true });
    await fs.rm(target.storeDir, { recursive: true, force: true });
  }
});

test('concurrent senders keep files apart', async () => {
  const target = await startReceiver();
  const source = await tempDir('source');
  try {
    const expected = new Map<string, string>();
    const sends = [];
    for (let i = 0; i < 8; i++) {
      const file = path.join(source, `sender-${i}`, `file-${i}.bin`);
      expected.set(`file-${i}.bin`, await writeRandomFile(file, 1_000_000 + i * 77_777, 100 + i));
      sends.push(sendOptions(target.port, [file]).then((options) => sendFiles(options)));
    }
    const results = await Promise.all(sends);
    for (const result of results) {
      assert.equal(result.files[0].status, 'delivered');
    }

    const entries = target.store.list();
    assert.equal(entries.length, 8);
    const privateKey = parsePrivateKey((await sharedKeys()).envelopePrivateKeyPem, undefined);
    for (const entry of entries) {
      const plain = path.join(source, `${entry.id}.out`);
      await decryptFile(path.join(target.storeDir, 'files', `${entry.id}.sft`), plain, { passphrase: PASSPHRASE, privateKeys: [privateKey] });
      assert.equal(await sha256File(plain), expected.get(entry.displayName), entry.displayName);
    }
  } finally {
    await target.stop();
    await fs.rm(source, { recursive: true, force: true });
    await fs.rm(target.storeDir, { recursive: true, force: true });
  }
});

test('askBeforeAccept declines and accepts', async () => {
  const asked: string[] = [];
  const target = await startReceiver({
    askBeforeAccept: async (offer) => {
      asked.push(offer.displayName);
      return !offer.displayName.startsWith('no');
    },
  });
  const source = await tempDir('source');
  try {
    await writeRandomFile(path.join(source, 'yes.txt'), 1000, 1);
    await writeRandomFile(path.join(source, 'no.txt'), 1000, 2);
    const result = await sendFiles(await sendOptions(target.port, [path.join(source, 'no.txt'), path.join(source, 'yes.txt')]));
    assert.deepEqual(
      result.files.map((file) => [file.file.name, file.status]),
      [['no.txt', 'rejected'], ['yes.txt', 'delivered']],
    );
    const rejected = result.files[0];
    assert.equal(rejected.status === 'rejected' ? rejected.code : '', 'TRANSFER_REJECTED');
    assert.deepEqual(asked, ['no.txt', 'yes.txt']);
    assert.deepEqual(target.store.list().map((entry) => entry.displayName), ['yes.txt']);
    assert.equal((await fs.readdir(path.join(target.storeDir, 'partial'))).length, 0, 'a declined file leaves no partial');
  } finally {
    await target.stop();
    await fs.rm(source, { recursive: true, force: true });
    await fs.rm(target.storeDir, { recursive: true, force: true });
  }
});

test('unanswered prompt does not block stop', async () => {
  const target = await startReceiver({ askBeforeAccept: () => new Promise<boolean>(() => undefined) });
  const source = await tempDir('source');
  try {
    await writeRandomFile(path.join(source, 'a.txt'), 1000, 1);
    let prompted: () => void = () => undefined;
    const promptShown = new Promise<void>((resolve) => (prompted = resolve));
    target.receiver.on('login', () => setTimeout(prompted, 200));
    const sending = sendFiles(await sendOptions(target.port, [path.join(source, 'a.txt')], { retry: { attempts: 0, baseDelayMs: 1 } }));
    const outcome = sending.then(() => 'resolved', (error: Error) => error.message);
    await promptShown;
    const started = Date.now();
    await target.receiver.stop();
    assert.ok(Date.now() - started < 3000, 'stop returned without an answer to the prompt');
    assert.notEqual(await outcome, 'resolved');
  } finally {
    await target.store.close();
    await fs.rm(source, { recursive: true, force: true });
    await fs.rm(target.storeDir, { recursive: true, force: true });
  }
});
