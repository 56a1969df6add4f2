/**
 * Disk full: a receiver whose store sits on a 4 MiB tmpfs. An offer larger than the free
 * space is rejected with DISK_FULL before any byte is written. A disk that fills while a
 * file arrives fails that file with DISK_FULL at whatever step the space runs out: data,
 * checkpoint, sidecar or index. Throughout, earlier files stay listed and intact, nothing
 * incomplete is listed, and the receiver keeps answering. Once space returns, the same
 * files go through.
 *
 * Mounting needs root. Without it, the suite falls back to the store's `minFreeBytes`
 * margin, which exercises only the free-space check before an upload, and says so.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EnvelopeWriter, openEnvelope, parsePublicKey } from '../../src/crypto';
import { Store } from '../../src/storage/store';
import { sendFiles } from '../../src/transfer/sender';
import { HostileReceiver, ITERATIONS, PASSPHRASE, RawClient, receiverKeys, seededBytes, sendOptions, sha256, startReceiver, tempDir } from './receiver-harness';

const DISK_BYTES = 4 * 1024 * 1024;
/** The store keeps this much free beyond each upload, small so the disk can really fill. */
const MIN_FREE_BYTES = 64 * 1024;
/**
 * Free bytes left on the disk once the offer is accepted, as a function of the envelope
 * size. Less than the envelope fails a data write. A few 4 KiB pages more than it can fail
 * the checkpoint, the sidecar or the index write at the end.
 */
const LEFT_FREE: Array<[string, (envelopeSize: number) => number]> = [
  ['nothing', () => 0],
  ['1 KiB', () => 1024],
  ['64 KiB', () => 64 * 1024],
  ['half the envelope', (size) => size / 2],
  ...[0, 1, 2, 3, 4, 6, 8].map((pages): [string, (size: number) => number] => [`the envelope and ${pages} pages`, (size) => Math.ceil(size / 4096) * 4096 + pages * 4096]),
];

let work: string;
let mountPoint: string;
let mounted = false;
let target: HostileReceiver;
let privateKey: crypto.KeyObject;
/** Plaintext SHA-256 of every file the store confirmed, by entry id. */
const stored = new Map<string, string>();

before(async () => {
  work = await tempDir('disk-full');
  mountPoint = path.join(work, 'disk');
  await fs.mkdir(mountPoint);
  const result = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${DISK_BYTES}`, 'tmpfs', mountPoint], { encoding: 'utf8' });
  mounted = result.status === 0;
  const minFreeBytes = mounted ? MIN_FREE_BYTES : (await freeBytes(mountPoint)) - DISK_BYTES;
  target = await startReceiver({ storeDir: path.join(mountPoint, 'store'), storeOptions: { minFreeBytes } });
  privateKey = crypto.createPrivateKey((await receiverKeys()).envelopePrivateKeyPem);
});

after(async () => {
  await target?.stop();
  if (mounted) {
    const result = spawnSync('umount', [mountPoint], { encoding: 'utf8' });
    if (result.status !== 0) spawnSync('umount', ['-l', mountPoint]);
  }
  await fs.rm(work, { recursive: true, force: true });
});

async function freeBytes(dir: string): Promise<number> {
  const stats = await fs.statfs(dir);
  return stats.bavail * stats.bsize;
}

/** Fills the disk until only `leave` bytes are free, with a file outside the store. */
async function fillDisk(leave: number): Promise<string> {
  const filler = path.join(mountPoint, `filler-${crypto.randomBytes(4).toString('hex')}`);
  const size = Math.max(0, (await freeBytes(mountPoint)) - leave);
  const handle = await fs.open(filler, 'w');
  try {
    // tmpfs rounds to pages, so write until the request is met or the disk refuses.
    for (let written = 0; written < size;) {
      const piece = Math.min(256 * 1024, size - written);
      try {
        written += (await handle.write(Buffer.alloc(piece, 0x5a))).bytesWritten;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw error;
      }
    }
  } finally {
    await handle.close();
  }
  return filler;
}

async function sendFile(name: string, size: number, seed: number): Promise<{ status: string; code?: string; message?: string; entryId?: string; digest: string }> {
  const file = path.join(work, name);
  const bytes = seededBytes(size, seed);
  await fs.writeFile(file, bytes);
  const result = await sendFiles(await sendOptions(target.port, [file]));
  const outcome = result.files[0] as { status: string; code?: string; message?: string; entryId?: string };
  return { ...outcome, digest: sha256(bytes) };
}

/** Checks that every confirmed file is listed and decrypts to its bytes, that nothing else is listed, and that the index on disk parses. */
async function assertEarlierFilesIntact(when: string): Promise<void> {
  const entries = target.store.list();
  assert.deepEqual(entries.map((entry) => entry.id).sort(), [...stored.keys()].sort(), `${when}: the listed entries changed`);
  for (const entry of entries) {
    const opened = await openEnvelope(target.store.openEnvelope(entry.id), { passphrase: PASSPHRASE, privateKeys: [privateKey] });
    const hash = crypto.createHash('sha256');
    for await (const part of opened.payload) hash.update(part as Buffer);
    assert.equal(hash.digest('hex'), stored.get(entry.id), `${when}: ${entry.displayName} no longer decrypts to its bytes`);
  }
  const onDisk = await Store.open(target.storeDir, { readOnly: true });
  assert.deepEqual(onDisk.list().map((entry) => entry.id).sort(), [...stored.keys()].sort(), `${when}: the index on disk differs`);
  await onDisk.close();
}

async function assertResponsive(when: string): Promise<void> {
  const client = await RawClient.connect(target.port);
  const answer = await client.login();
  client.close();
  assert.equal(answer.type, 'login-ok', `${when}: the receiver did not answer a login`);
}

/**
 * Offers `plaintext`, fills the disk to `leave` free bytes once the offer is accepted, then
 * sends the data. Returns the receiver's final reply.
 */
async function uploadIntoFullDisk(plaintext: Buffer, name: string, leaveFor: (envelopeSize: number) => number): Promise<{ type: string; code?: string; message?: string; entryId?: string; filler: string }> {
  const client = await RawClient.connect(target.port);
  const login = await client.login();
  assert.equal(login.type, 'login-ok');
  const writer = await EnvelopeWriter.create(
    [{ kind: 'passphrase+rsa', passphrase: PASSPHRASE, publicKey: parsePublicKey((login as { publicKey: string }).publicKey), iterations: ITERATIONS }],
    { name, size: plaintext.length, mtimeMs: null },
  );
  const parts: Buffer[] = [writer.header];
  const stream = writer.createPayloadStream();
  stream.on('data', (chunk: Buffer) => parts.push(chunk));
  await new Promise<void>((resolve) => {
    stream.once('end', resolve);
    stream.end(plaintext);
  });
  const envelope = Buffer.concat(parts);
  const transferId = crypto.randomBytes(16).toString('hex');
  await client.send({ type: 'offer', transferId, name, path: name, size: envelope.length, headerSize: writer.header.length, plaintextSize: plaintext.length });
  const accepted = await client.next();
  if (accepted.type !== 'accept') {
    client.close();
    return { ...accepted, filler: '' } as never;
  }

  const filler = await fillDisk(Math.floor(leaveFor(envelope.length)));
  try {
    for (let offset = 0; offset < envelope.length; offset += 64 * 1024) {
      await client.channel.sendData(envelope.subarray(offset, offset + 64 * 1024));
    }
    await client.send({ type: 'end', transferId, sha256: sha256(envelope) });
    for (;;) {
      const answer = await client.next();
      if (answer.type !== 'committed') return { ...answer, filler };
    }
  } catch (error) {
    // The receiver closed the connection after its error message, or before the last frame.
    const failure = client.channel.error;
    return { type: 'closed', message: `${(error as Error).message} ${failure?.message ?? ''}`, filler };
  } finally {
    client.close();
  }
}

describe('disk full', () => {
  test('store on a small disk', { timeout: 60_000 }, async (t) => {
    t.diagnostic(mounted
      ? `store on a ${DISK_BYTES}-byte tmpfs at ${mountPoint}`
      : `mount was refused; the store's minFreeBytes margin leaves ${DISK_BYTES} bytes, and only the check before an upload runs`);

    // Earlier files.
    for (const [index, size] of [700 * 1024, 500 * 1024].entries()) {
      const outcome = await sendFile(`earlier-${index}.bin`, size, 100 + index);
      assert.equal(outcome.status, 'delivered', JSON.stringify(outcome));
      stored.set(outcome.entryId as string, outcome.digest);
    }

    // An offer larger than the free space is rejected before any byte is written.
    const tooLarge = await sendFile('too-large.bin', 3 * 1024 * 1024, 200);
    assert.equal(tooLarge.status, 'rejected', JSON.stringify(tooLarge));
    assert.equal(tooLarge.code, 'DISK_FULL');
    assert.match(tooLarge.message ?? '', /free space|disk is full/i, 'the reason names the missing space');
    assert.deepEqual(await fs.readdir(path.join(target.storeDir, 'partial')), []);
    await assertEarlierFilesIntact('after the rejected offer');
  });

  test('disk filling during an upload', { timeout: 120_000 }, async (t) => {
    if (!mounted) {
      t.skip('needs a real small file system: mount was refused');
      return;
    }
    const outcomes: string[] = [];
    for (const [index, [left, leaveFor]] of LEFT_FREE.entries()) {
      const plaintext = seededBytes(300 * 1024, 300 + index);
      const answer = await uploadIntoFullDisk(plaintext, `filling-${index}.bin`, leaveFor);
      outcomes.push(`${left} left: ${answer.type}${answer.code ? ` ${answer.code} (${(answer.message ?? '').slice(0, 60)})` : ''}`);
      if (answer.type === 'confirmed') {
        stored.set(answer.entryId as string, sha256(plaintext));
      } else {
        assert.ok(['error', 'reject', 'closed'].includes(answer.type), `${left} left: ${JSON.stringify(answer)}`);
        if (answer.type !== 'closed') assert.equal(answer.code, 'DISK_FULL', `${left} left: ${JSON.stringify(answer)}`);
      }
      await assertEarlierFilesIntact(`with ${left} left`);
      await assertResponsive(`with ${left} left`);
      await fs.rm(answer.filler, { force: true });
    }
    t.diagnostic(outcomes.join('; '));
    assert.ok(outcomes.some((outcome) => !outcome.endsWith('confirmed')), 'the disk never filled during an upload');
  });

  test('space returns and files go through', { timeout: 60_000 }, async (t) => {
    // The file that failed with nothing left goes through once the filler is gone.
    const free = await freeBytes(mountPoint);
    t.diagnostic(`${free} bytes free after the fillers were removed`);
    assert.ok(free > 400 * 1024, `only ${free} bytes are free after the fillers were removed`);
    const outcome = await sendFile('filling-0.bin', 300 * 1024, 300);
    assert.equal(outcome.status, 'delivered', JSON.stringify(outcome));
    stored.set(outcome.entryId as string, outcome.digest);
    await assertEarlierFilesIntact('after space returned');
  });
});
