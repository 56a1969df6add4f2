import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { CHUNK_SIZE, EnvelopeWriter, SEALED_CHUNK_SIZE, decryptFile, parsePrivateKey, parsePublicKey } from '../../src/crypto';
import { FrameChannel } from '../../src/transfer/channel';
import { DEFAULT_FRAME_LIMITS } from '../../src/transfer/frame';
import { envelopeBytes } from '../../src/transfer/envelope-source';
import { parseSenderMessage } from '../../src/transfer/messages';
import { SendProgress, sendFiles } from '../../src/transfer/sender';
import { PASSPHRASE, TEST_ITERATIONS, sendOptions, sha256File, sharedKeys, tempDir, writeRandomFile } from './helpers';

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of source) {
    parts.push(part);
  }
  return Buffer.concat(parts);
}

test('envelope bytes from any offset match', async () => {
  const dir = await tempDir('envelope');
  try {
    const keys = await sharedKeys();
    const publicKey = parsePublicKey(keys.envelopePublicKeyPem);
    for (const size of [0, 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE, 200_000]) {
      const file = path.join(dir, `plain-${size}`);
      await writeRandomFile(file, size, size + 1);
      const writer = await EnvelopeWriter.create([{ kind: 'passphrase+rsa', passphrase: PASSPHRASE, publicKey, iterations: TEST_ITERATIONS }], {
        name: 'plain',
        size,
        mtimeMs: 0,
      });
      const whole = await collect(envelopeBytes(writer, file, size, 0));
      assert.equal(whole.length, writer.sizeFor(size));

      const header = writer.header.length;
      const offsets = new Set([0, 1, header - 1, header, header + 1, whole.length - 1, whole.length]);
      for (let chunk = 0; chunk * SEALED_CHUNK_SIZE < whole.length; chunk++) {
        const start = header + chunk * SEALED_CHUNK_SIZE;
        offsets.add(start - 1);
        offsets.add(start);
        offsets.add(start + 17);
      }
      for (const offset of offsets) {
        if (offset < 0 || offset > whole.length) {
          continue;
        }
        const tail = await collect(envelopeBytes(writer, file, size, offset));
        assert.ok(tail.equals(whole.subarray(offset)), `size ${size}, offset ${offset}`);
      }

      const envelopeFile = path.join(dir, `envelope-${size}`);
      await fs.writeFile(envelopeFile, whole);
      await decryptFile(envelopeFile, path.join(dir, `out-${size}`), { passphrase: PASSPHRASE, privateKeys: [parsePrivateKey(keys.envelopePrivateKeyPem, undefined)] });
      assert.equal(await sha256File(path.join(dir, `out-${size}`)), await sha256File(file));
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('envelope bytes fail when file shrinks', async () => {
  const dir = await tempDir('envelope');
  try {
    const file = path.join(dir, 'plain');
    await writeRandomFile(file, 100_000);
    const publicKey = parsePublicKey((await sharedKeys()).envelopePublicKeyPem);
    const writer = await EnvelopeWriter.create([{ kind: 'passphrase+rsa', passphrase: PASSPHRASE, publicKey, iterations: TEST_ITERATIONS }], { name: 'plain', size: 100_000, mtimeMs: 0 });
    await fs.truncate(file, 50_000);
    await assert.rejects(collect(envelopeBytes(writer, file, 100_000, 0)), (error: Error & { code?: string }) => error.code === 'IO_FAILED' && /changed while/.test(error.message));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

/**
 * A receiver that drops the first connection after 300,000 bytes, then asks the sender to
 * resume at 100,000, an offset with no hash snapshot, so the sender must hash bytes again.
 */
test('resume without snapshot rehashes to offset', async () => {
  const keys = await sharedKeys();
  const dir = await tempDir('rehash');
  const received: Buffer[] = [];
  let connections = 0;
  let checked = '';
  const server = tls.createServer({ key: keys.tls.keyPem, cert: keys.tls.certPem, minVersion: 'TLSv1.3' }, (socket) => {
    const channel = new FrameChannel(socket, DEFAULT_FRAME_LIMITS, 'sender');
    const attempt = ++connections;
    void (async () => {
      const next = async () => parseSenderMessage((await channel.next(5000)).body);
      await next();
      await channel.send({ type: 'hello', version: 1, software: 'fake' });
      await next();
      await channel.send({ type: 'login-ok', publicKey: keys.envelopePublicKeyPem });
      const offer = await next();
      if (offer.type !== 'offer') throw new Error('expected offer');
      const offset = attempt === 1 ? 0 : 100_000;
      await channel.send({ type: 'accept', transferId: offer.transferId, offset });
      let have = offset;
      if (attempt === 2) {
        received.splice(0, received.length, Buffer.concat(received).subarray(0, 100_000));
      }
      for (;;) {
        const frame = await channel.next(5000);
        if (frame.type === 'data') {
          received.push(frame.body);
          have += frame.body.length;
          if (attempt === 1 && have >= 300_000) {
            socket.destroy();
            return;
          }
          continue;
        }
        const end = parseSenderMessage(frame.body);
        if (end.type !== 'end') throw new Error('expected end');
        checked = crypto.createHash('sha256').update(Buffer.concat(received)).digest('hex');
        await channel.send(checked === end.sha256 ? { type: 'confirmed', transferId: end.transferId, entryId: 'e1' } : { type: 'reject', transferId: end.transferId, code: 'HASH_MISMATCH', message: 'mismatch' });
        return;
      }
    })().catch(() => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const file = path.join(dir, 'a.bin');
    const original = await writeRandomFile(file, 600_000, 5);
    const events: SendProgress[] = [];
    const port = (server.address() as { port: number }).port;
    const result = await sendFiles(await sendOptions(port, [file], { onProgress: (event) => events.push(event) }));
    assert.equal(result.files[0].status, 'delivered');
    assert.equal(connections, 2);
    const resume = events.find((event) => event.type === 'file-resume');
    assert.deepEqual(resume && { offset: resume.offset, rehashedBytes: resume.rehashedBytes }, { offset: 100_000, rehashedBytes: 100_000 });

    const envelopeFile = path.join(dir, 'received.sft');
    await fs.writeFile(envelopeFile, Buffer.concat(received));
    await decryptFile(envelopeFile, path.join(dir, 'out'), { passphrase: PASSPHRASE, privateKeys: [parsePrivateKey(keys.envelopePrivateKeyPem, undefined)] });
    assert.equal(await sha256File(path.join(dir, 'out')), original);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await fs.rm(dir, { recursive: true, force: true });
  }
});
