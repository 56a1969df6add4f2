import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { isSftError } from '../../src/errors';
import { createTlsIdentity } from '../../src/transfer/identity';
import { KnownReceivers } from '../../src/transfer/known-receivers';
import { sendFiles } from '../../src/transfer/sender';
import { sendOptions, sharedKeys, startReceiver, tempDir, writeRandomFile } from './helpers';

/** A TLS 1.3 server with another identity that counts every byte a client sends after the handshake. */
async function impostor(): Promise<{ port: number; received: () => number; close: () => Promise<void> }> {
  const identity = await createTlsIdentity({ bits: 2048 });
  let received = 0;
  const server = tls.createServer({ key: identity.keyPem, cert: identity.certPem, minVersion: 'TLSv1.3' }, (socket) => {
    socket.on('data', (chunk: Buffer) => (received += chunk.length));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    received: () => received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

test('changed fingerprint refused before login', async () => {
  const fake = await impostor();
  const dir = await tempDir('known');
  try {
    const file = path.join(dir, 'a.txt');
    await writeRandomFile(file, 100);
    const known = await KnownReceivers.load(path.join(dir, 'known_receivers'));
    await known.set(`127.0.0.1:${fake.port}`, (await sharedKeys()).tls.fingerprint);

    await assert.rejects(
      sendFiles(await sendOptions(fake.port, [file], { trust: undefined, knownReceivers: known })),
      (error) => isSftError(error, 'FINGERPRINT_CHANGED') && error.message.includes('Nothing was sent') && error.message.includes(known.file),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(fake.received(), 0, 'not a byte, so no hello and no password, reached the impostor');

    // A pinned fingerprint from a link is checked the same way.
    const pinned = (await sharedKeys()).tls.fingerprint;
    await assert.rejects(
      sendFiles(await sendOptions(fake.port, [file], { to: `sft://127.0.0.1:${fake.port}#${pinned}`, trust: undefined })),
      (error) => isSftError(error, 'FINGERPRINT_CHANGED'),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(fake.received(), 0);

    // The impostor does count bytes that a client sends, so the zeros above mean something.
    const probe = tls.connect({ host: '127.0.0.1', port: fake.port, rejectUnauthorized: false });
    await new Promise<void>((resolve) => probe.once('secureConnect', () => resolve()));
    probe.write(Buffer.alloc(5));
    for (let i = 0; i < 50 && fake.received() === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    probe.destroy();
    assert.equal(fake.received(), 5);
  } finally {
    await fake.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('real receiver sees no login with wrong pin', async () => {
  const target = await startReceiver();
  const dir = await tempDir('known');
  try {
    const file = path.join(dir, 'a.txt');
    await writeRandomFile(file, 100);
    const logins: unknown[] = [];
    target.receiver.on('login', (info) => logins.push(info));
    target.receiver.on('login-failed', (info) => logins.push(info));
    const other = await createTlsIdentity({ bits: 2048 });
    await assert.rejects(sendFiles(await sendOptions(target.port, [file], { trust: other.fingerprint })), (error) => isSftError(error, 'FINGERPRINT_CHANGED'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(logins.length, 0);
    assert.equal(target.store.list().length, 0);
  } finally {
    await target.stop();
    await fs.rm(target.storeDir, { recursive: true, force: true });
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('unknown receiver confirmed once then known', async () => {
  const target = await startReceiver();
  const dir = await tempDir('known');
  try {
    const file = path.join(dir, 'a.txt');
    await writeRandomFile(file, 100);
    const knownFile = path.join(dir, 'known_receivers');
    const expected = (await sharedKeys()).tls.fingerprint;

    // Without a way to confirm, an unknown receiver is rejected and nothing is recorded.
    await assert.rejects(
      sendFiles(await sendOptions(target.port, [file], { trust: undefined, knownReceivers: await KnownReceivers.load(knownFile) })),
      (error) => isSftError(error, 'FINGERPRINT_UNKNOWN') && error.message.includes(expected),
    );
    await assert.rejects(
      sendFiles(
        await sendOptions(target.port, [file], { trust: undefined, knownReceivers: await KnownReceivers.load(knownFile), confirmFingerprint: async () => false }),
      ),
      (error) => isSftError(error, 'FINGERPRINT_UNKNOWN'),
    );
    assert.equal((await KnownReceivers.load(knownFile)).get(`127.0.0.1:${target.port}`), undefined);

    const asked: string[] = [];
    const confirm = async (receiver: { fingerprint: string }): Promise<boolean> => {
      asked.push(receiver.fingerprint);
      return true;
    };
    const first = await sendFiles(await sendOptions(target.port, [file], { trust: undefined, knownReceivers: await KnownReceivers.load(knownFile), confirmFingerprint: confirm }));
    assert.equal(first.files[0].status, 'delivered');
    assert.equal(first.fingerprint, expected);
    assert.deepEqual(asked, [expected]);
    assert.equal((await KnownReceivers.load(knownFile)).get(`127.0.0.1:${target.port}`), expected);

    await sendFiles(await sendOptions(target.port, [file], { trust: undefined, knownReceivers: await KnownReceivers.load(knownFile), confirmFingerprint: confirm }));
    assert.equal(asked.length, 1, 'a known receiver is not asked about again');
    assert.equal(target.store.list().length, 2);
  } finally {
    await target.stop();
    await fs.rm(target.storeDir, { recursive: true, force: true });
    await fs.rm(dir, { recursive: true, force: true });
  }
});
