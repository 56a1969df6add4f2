import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { decryptFile, parsePrivateKey } from '../../src/crypto';
import { isSftError } from '../../src/errors';
import { TransferInfo } from '../../src/transfer/receiver';
import { SendProgress, sendFiles } from '../../src/transfer/sender';
import { CuttingProxy, PASSPHRASE, sendOptions, sha256File, sharedKeys, startReceiver, tempDir, writeRandomFile } from './helpers';

const CHECKPOINT_BYTES = 256 * 1024;
/** TLS records and frame headers add a little to the envelope bytes; this bounds it generously. */
const OVERHEAD_BYTES = 64 * 1024;

for (const cutAt of [3_000, 1_500_000, 3_333_333]) {
  test(`resume after cut at ${cutAt} bytes`, async () => {
    const target = await startReceiver({ checkpointIntervalBytes: CHECKPOINT_BYTES });
    const proxy = await CuttingProxy.start(target.port, cutAt);
    const source = await tempDir('source');
    try {
      const file = path.join(source, 'big.bin');
      const original = await writeRandomFile(file, 4_000_000, 7);

      const starts: TransferInfo[] = [];
      target.receiver.on('transfer-start', (info) => starts.push(info));
      const events: SendProgress[] = [];
      const result = await sendFiles(await sendOptions(proxy.port, [file], { onProgress: (event) => events.push(event) }));

      assert.equal(result.files.length, 1);
      const delivered = result.files[0];
      assert.equal(delivered.status, 'delivered');
      assert.equal(proxy.cuts, 1);
      assert.equal(proxy.connections, 2);
      assert.ok(events.some((event) => event.type === 'retry'), 'the sender retried');
      for (const event of events) {
        if (event.type === 'file-resume') {
          assert.equal(event.rehashedBytes, 0, `resumed at ${event.offset} from a hash snapshot`);
        }
      }

      const envelopeSize = delivered.status === 'delivered' ? delivered.envelopeSize : 0;
      const resumedAt = starts.length === 2 ? starts[1].received : 0;
      if (cutAt > OVERHEAD_BYTES) {
        assert.equal(starts.length, 2, 'the upload started twice');
        assert.equal(starts[0].received, 0);
        // The receiver commits what arrived when the connection breaks, whole frames only.
        assert.ok(resumedAt >= cutAt - OVERHEAD_BYTES - 2 * 256 * 1024, `resumed at ${resumedAt}`);
        assert.ok(resumedAt <= cutAt, `resumed at ${resumedAt}`);
        assert.equal(events.filter((event) => event.type === 'file-resume').length, 1);
      }
      // Committed bytes are not sent again: the second connection carries only the rest.
      const maxForwarded = cutAt + (envelopeSize - resumedAt) + OVERHEAD_BYTES;
      assert.ok(proxy.forwardedToReceiver <= maxForwarded, `forwarded ${proxy.forwardedToReceiver}, at most ${maxForwarded}`);

      const entries = target.store.list();
      assert.equal(entries.length, 1);
      const envelopePath = path.join(target.storeDir, 'files', `${entries[0].id}.sft`);
      assert.equal(await sha256File(envelopePath), entries[0].sha256);
      assert.equal(delivered.status === 'delivered' ? delivered.sha256 : '', entries[0].sha256);

      const keys = await sharedKeys();
      const plain = path.join(source, 'decrypted.bin');
      await decryptFile(envelopePath, plain, { passphrase: PASSPHRASE, privateKeys: [parsePrivateKey(keys.envelopePrivateKeyPem, undefined)] });
      assert.equal(await sha256File(plain), original);
    } finally {
      await proxy.stop();
      await target.stop();
      await fs.rm(source, { recursive: true, force: true });
      await fs.rm(target.storeDir, { recursive: true, force: true });
    }
  });
}

/** Writes `count` random files of 4 KiB into a new folder `folder`; returns their SHA-256 by name. */
async function writeSmallFiles(folder: string, count: number): Promise<Map<string, string>> {
  await fs.mkdir(folder);
  const hashes = new Map<string, string>();
  for (let index = 0; index < count; index++) {
    const name = `file-${String(index).padStart(3, '0')}.bin`;
    hashes.set(name, await writeRandomFile(path.join(folder, name), 4096, index + 1));
  }
  return hashes;
}

test('resume after cut during eager sends', async () => {
  const target = await startReceiver();
  // Well inside the stream of eager offers: about 30 files of 4 KiB have passed.
  const proxy = await CuttingProxy.start(target.port, 150_000);
  const source = await tempDir('source');
  try {
    const folder = path.join(source, 'many');
    const originals = await writeSmallFiles(folder, 120);

    const events: SendProgress[] = [];
    const result = await sendFiles(await sendOptions(proxy.port, [folder], { onProgress: (event) => events.push(event) }));
    assert.equal(proxy.cuts, 1);
    assert.ok(events.some((event) => event.type === 'retry'), 'the sender retried');
    assert.equal(result.files.length, 120);
    assert.ok(result.files.every((file) => file.status === 'delivered'));
    // Each file's envelope crossed the proxy at most twice.
    assert.ok(proxy.forwardedToReceiver < 2 * 120 * (4096 + 2048), `forwarded ${proxy.forwardedToReceiver} bytes`);

    const entries = target.store.list();
    assert.equal(entries.length, 120, 'every file stored once');
    assert.deepEqual(entries.map((entry) => entry.displayName).sort(), [...originals.keys()].sort());
    assert.equal((await fs.readdir(path.join(target.storeDir, 'partial'))).length, 0);

    const keys = await sharedKeys();
    const privateKeys = [parsePrivateKey(keys.envelopePrivateKeyPem, undefined)];
    for (const entry of entries.slice(0, 5)) {
      const plain = path.join(source, `${entry.id}.out`);
      await decryptFile(path.join(target.storeDir, 'files', `${entry.id}.sft`), plain, { passphrase: PASSPHRASE, privateKeys });
      assert.equal(await sha256File(plain), originals.get(entry.displayName));
    }
  } finally {
    await proxy.stop();
    await target.stop();
    await fs.rm(source, { recursive: true, force: true });
    await fs.rm(target.storeDir, { recursive: true, force: true });
  }
});

test('receiver stop mid-folder is retryable', async () => {
  const target = await startReceiver();
  const source = await tempDir('source');
  try {
    const folder = path.join(source, 'many');
    await writeSmallFiles(folder, 300);
    let delivered = 0;
    let stopping: Promise<void> | undefined;
    const onProgress = (event: SendProgress): void => {
      // Stop while eager offers are still in flight.
      if (event.type === 'file-delivered' && ++delivered === 20) stopping = target.receiver.stop();
    };
    await assert.rejects(
      sendFiles(await sendOptions(target.port, [folder], { retry: { attempts: 1, baseDelayMs: 5 }, onProgress })),
      (error) => isSftError(error, 'CONNECTION_FAILED'),
    );
    await stopping;

    const names = target.store.list().map((entry) => entry.displayName);
    assert.ok(names.length >= 20, `${names.length} files stored`);
    assert.equal(new Set(names).size, names.length, 'no file stored twice');
  } finally {
    await target.stop();
    await fs.rm(source, { recursive: true, force: true });
    await fs.rm(target.storeDir, { recursive: true, force: true });
  }
});

test('refused first connection fails at once', async () => {
  const target = await startReceiver();
  const port = target.port;
  await target.stop();
  const source = await tempDir('source');
  try {
    await writeRandomFile(path.join(source, 'a.bin'), 10);
    const events: SendProgress[] = [];
    await assert.rejects(
      sendFiles(await sendOptions(port, [path.join(source, 'a.bin')], { retry: { attempts: 2, baseDelayMs: 5 }, onProgress: (event) => events.push(event) })),
      (error) => isSftError(error, 'CONNECTION_FAILED') && /ECONNREFUSED/.test(error.message),
    );
    assert.equal(events.filter((event) => event.type === 'retry').length, 0);
  } finally {
    await fs.rm(source, { recursive: true, force: true });
    await fs.rm(target.storeDir, { recursive: true, force: true });
  }
});

test('retries exhausted when the receiver goes away', async () => {
  const target = await startReceiver({ checkpointIntervalBytes: CHECKPOINT_BYTES });
  const proxy = await CuttingProxy.start(target.port, 1_000_000);
  const source = await tempDir('source');
  try {
    await writeRandomFile(path.join(source, 'big.bin'), 4_000_000, 3);
    const events: SendProgress[] = [];
    let closed: Promise<void> | undefined;
    const onProgress = (event: SendProgress): void => {
      events.push(event);
      // After the cut the proxy stops listening, so every reconnection is refused.
      if (event.type === 'retry') closed ??= proxy.stop();
    };
    await assert.rejects(
      sendFiles(await sendOptions(proxy.port, [path.join(source, 'big.bin')], { retry: { attempts: 2, baseDelayMs: 5 }, onProgress })),
      (error) => isSftError(error, 'CONNECTION_FAILED') && error.message.includes('Gave up after 2 retries'),
    );
    assert.equal(events.filter((event) => event.type === 'retry').length, 2);
    await closed;
  } finally {
    await proxy.stop();
    await target.stop();
    await fs.rm(source, { recursive: true, force: true });
    await fs.rm(target.storeDir, { recursive: true, force: true });
  }
});

test('cancelled send leaves unlisted resumable partial', async () => {
  const target = await startReceiver({ checkpointIntervalBytes: CHECKPOINT_BYTES });
  const source = await tempDir('source');
  try {
    const file = path.join(source, 'big.bin');
    await writeRandomFile(file, 8_000_000, 9);
    const controller = new AbortController();
    const failed: TransferInfo[] = [];
    target.receiver.on('transfer-failed', (info) => failed.push(info));
    const options = await sendOptions(target.port, [file], {
      signal: controller.signal,
      onProgress: (event) => {
        if (event.type === 'file-progress' && event.sent > 1_000_000) {
          controller.abort();
        }
      },
    });
    await assert.rejects(sendFiles(options), (error) => isSftError(error, 'TRANSFER_CANCELLED'));
    for (let i = 0; i < 50 && failed.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(failed.length, 1);
    assert.ok(failed[0].received > 0, `kept ${failed[0].received} bytes`);
    assert.equal(target.store.list().length, 0);
    const partials = await fs.readdir(path.join(target.storeDir, 'partial'));
    assert.equal(partials.filter((name) => name.endsWith('.part')).length, 1);
  } finally {
    await target.stop();
    await fs.rm(source, { recursive: true, force: true });
    await fs.rm(target.storeDir, { recursive: true, force: true });
  }
});
