import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { isSftError } from '../../src/errors';
import { formatSidecar, StoreEntry } from '../../src/storage/entry';
import { Store, StoreLogger, StoreOptions, uploadKey, UploadOffer } from '../../src/storage/store';
import { BUFFERED_UPLOAD_MAX_BYTES } from '../../src/storage/upload';

let root: string;

before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'sft-store-'));
});

after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

async function newStoreDir(): Promise<string> {
  const parent = await fs.mkdtemp(path.join(root, 'case-'));
  return path.join(parent, 'store');
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Returns a logger that keeps its lines for assertions. */
function recordingLogger(): StoreLogger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (message) => lines.push(`info ${message}`),
    warn: (message) => lines.push(`warn ${message}`),
    error: (message) => lines.push(`error ${message}`),
  };
}

const quiet: StoreOptions = { minFreeBytes: 0 };

let transferCounter = 0;

function offerFor(data: Uint8Array, overrides: Partial<UploadOffer> = {}): UploadOffer {
  transferCounter += 1;
  return {
    transferId: `t-${transferCounter}-${randomBytes(4).toString('hex')}`,
    username: 'alice',
    remoteAddress: '127.0.0.1',
    displayName: 'report.pdf',
    relativePath: '',
    envelopeSize: data.length,
    plaintextSize: Math.max(0, data.length - 100),
    ...overrides,
  };
}

async function writeInChunks(upload: { write(chunk: Uint8Array): Promise<void> }, data: Uint8Array, chunkSize = 64 * 1024): Promise<void> {
  for (let offset = 0; offset < data.length; offset += chunkSize) {
    await upload.write(data.subarray(offset, offset + chunkSize));
  }
}

async function uploadWhole(store: Store, data: Uint8Array, overrides: Partial<UploadOffer> = {}): Promise<StoreEntry> {
  const upload = await store.beginUpload(offerFor(data, overrides));
  await writeInChunks(upload, data);
  return upload.finish(sha256(data));
}

async function readStream(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

async function listTree(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    found.push(full);
    if (entry.isDirectory()) {
      found.push(...(await listTree(full)));
    }
  }
  return found;
}

describe('Store basics', () => {
  it('creates its folders with mode 0700', { skip: process.platform === 'win32' && 'POSIX modes only' }, async () => {
    const dir = await newStoreDir();
    const store = await Store.open(dir, quiet);

    for (const folder of [dir, path.join(dir, 'files'), path.join(dir, 'partial')]) {
      assert.equal((await fs.stat(folder)).mode & 0o777, 0o700, folder);
    }
    await store.close();
  });

  it('stores an upload and lists it', async () => {
    const dir = await newStoreDir();
    const store = await Store.open(dir, { ...quiet, now: () => Date.parse('2024-05-01T12:00:00Z') });
    const data = randomBytes(300_000);

    const entry = await uploadWhole(store, data, { displayName: 'report.pdf', relativePath: 'docs/2024/report.pdf', transferId: 'fixed-id' });

    assert.match(entry.id, /^[0-9a-f]{32}$/);
    assert.equal(entry.transferId, 'fixed-id');
    assert.equal(entry.senderUsername, 'alice');
    assert.equal(entry.remoteAddress, '127.0.0.1');
    assert.equal(entry.displayName, 'report.pdf');
    assert.equal(entry.relativePath, 'docs/2024/report.pdf');
    assert.equal(entry.envelopeSize, data.length);
    assert.equal(entry.plaintextSize, data.length - 100);
    assert.equal(entry.receivedAt, '2024-05-01T12:00:00.000Z');
    assert.equal(entry.sha256, sha256(data));

    assert.deepEqual(store.list(), [entry]);
    assert.deepEqual(store.get(entry.id), entry);
    assert.ok((await readStream(store.openEnvelope(entry.id))).equals(data));
    await store.close();
  });

  it('accepts an empty envelope', async () => {
    const store = await Store.open(await newStoreDir(), quiet);
    const entry = await uploadWhole(store, Buffer.alloc(0), { plaintextSize: 0 });

    assert.equal(entry.envelopeSize, 0);
    assert.equal(entry.sha256, sha256(Buffer.alloc(0)));
    await store.close();
  });

  it('stores files under random ids only', async () => {
    const dir = await newStoreDir();
    const store = await Store.open(dir, quiet);
    await uploadWhole(store, randomBytes(1000), { displayName: '../../evil', relativePath: 'a/b' }).catch(() => undefined);
    await uploadWhole(store, randomBytes(1000), { displayName: 'CON', relativePath: 'x/CON/y?.txt' });
    await uploadWhole(store, randomBytes(1000), { displayName: 'evil\u202etxt.exe' });

    const names = await fs.readdir(path.join(dir, 'files'));
    assert.equal(names.length, 4);
    for (const name of names) {
      assert.match(name, /^[0-9a-f]{32}\.(sft|json)$/);
    }
    await store.close();
  });

  it('rejects unsafe names with NAME_INVALID', async () => {
    const store = await Store.open(await newStoreDir(), quiet);
    const data = randomBytes(10);

    for (const overrides of [{ displayName: '../etc/passwd' }, { relativePath: '/etc/passwd' }, { relativePath: 'C:\\x' }, { relativePath: 'a/../../b' }]) {
      await assert.rejects(store.beginUpload(offerFor(data, overrides)), (error: unknown) => isSftError(error, 'NAME_INVALID'), JSON.stringify(overrides));
    }
    assert.deepEqual(store.list(), []);
    await store.close();
  });

  it('makes names safe in the entry', async () => {
    const store = await Store.open(await newStoreDir(), quiet);
    const entry = await uploadWhole(store, randomBytes(10), { displayName: 'a\u0000b<c>.txt. ', relativePath: 'dir\\NUL.txt/x\u202e.txt' });

    assert.equal(entry.displayName, 'ab_c_.txt');
    assert.equal(entry.relativePath, 'dir/_NUL.txt/x.txt');
    await store.close();
  });

  it('rejects a bad transfer id and bad sizes', async () => {
    const store = await Store.open(await newStoreDir(), quiet);
    const data = randomBytes(10);

    for (const overrides of [{ transferId: '' }, { transferId: 'a b' }, { transferId: 'x'.repeat(129) }, { envelopeSize: -1 }, { envelopeSize: 1.5 }, { plaintextSize: Number.NaN }]) {
      await assert.rejects(store.beginUpload(offerFor(data, overrides)), (error: unknown) => isSftError(error, 'PROTOCOL_VIOLATION'), JSON.stringify(overrides));
    }
    await store.close();
  });

  it('writes files with mode 0600 and leaves no temporary files', { skip: process.platform === 'win32' && 'POSIX modes only' }, async () => {
    const dir = await newStoreDir();
    const store = await Store.open(dir, quiet);
    await uploadWhole(store, randomBytes(5000));
    await store.close();

    for (const file of await listTree(dir)) {
      const stats = await fs.stat(file);
      if (stats.isFile()) {
        assert.equal(stats.mode & 0o777, 0o600, file);
      }
      assert.doesNotMatch(file, /\.tmp$/);
    }
  });

  it('removes an entry', async () => {
    const dir = await newStoreDir();
    const store = await Store.open(dir, quiet);
    const kept = await uploadWhole(store, randomBytes(100));
    const removed = await uploadWhole(store, randomBytes(100));

    await store.remove(removed.id);

    assert.deepEqual(store.list().map((entry) => entry.id), [kept.id]);
    assert.throws(() => store.get(removed.id), (error: unknown) => isSftError(error, 'STORE_ENTRY_NOT_FOUND'));
    assert.deepEqual((await fs.readdir(path.join(dir, 'files'))).sort(), [`${kept.id}.json`, `${kept.id}.sft`]);
    const index = JSON.parse(await fs.readFile(path.join(dir, 'index.json'), 'utf8')) as { entries: StoreEntry[] };
    assert.deepEqual(index.entries.map((entry) => entry.id), [kept.id]);
    await store.close();
  });

  it('rejects unknown and malformed ids', async () => {
    const store = await Store.open(await newStoreDir(), quiet);
    for (const id of ['0'.repeat(32), '../index', '', 'x'.repeat(1000)]) {
      assert.throws(() => store.get(id), (error: unknown) => isSftError(error, 'STORE_ENTRY_NOT_FOUND'), id);
      assert.throws(() => store.openEnvelope(id), (error: unknown) => isSftError(error, 'STORE_ENTRY_NOT_FOUND'), id);
    }
    await assert.rejects(store.remove('0'.repeat(32)), (error: unknown) => isSftError(error, 'STORE_ENTRY_NOT_FOUND'));
    await store.close();
  });

  it('keeps the list across a restart', async () => {
    const dir = await newStoreDir();
    const first = await Store.open(dir, quiet);
    const data = randomBytes(20_000);
    const entry = await uploadWhole(first, data);
    await first.close();

    const second = await Store.open(dir, quiet);
    assert.deepEqual(second.list(), [entry]);
    assert.ok((await readStream(second.openEnvelope(entry.id))).equals(data));
    await second.close();
  });
});

describe('Store uploads', () => {
  it('never lists a partial upload', async () => {
    const dir = await newStoreDir();
    const store = await Store.open(dir, quiet);
    const upload = await store.beginUpload(offerFor(randomBytes(1000)));
    await upload.write(randomBytes(500));
    await upload.checkpoint();

    assert.deepEqual(store.list(), []);
    await store.close();

    const reopened = await Store.open(dir, quiet);
    assert.deepEqual(reopened.list(), []);
    await reopened.close();
  });

  it('rejects a wrong SHA-256 and discards the partial', async () => {
    const dir = await newStoreDir();
    const store = await Store.open(dir, quiet);
    const data = randomBytes(10_000);
    const offer = offerFor(data);

    const upload = await store.beginUpload(offer);
    await upload.write(data);
    await assert.rejects(upload.finish(sha256(Buffer.from('other'))), (error: unknown) => isSftError(error, 'HASH_MISMATCH'));

    assert.deepEqual(store.list(), []);
    assert.deepEqual(await fs.readdir(path.join(dir, 'partial')), []);

    const retry = await store.beginUpload(offer);
    assert.equal(retry.committedOffset, 0);
    await retry.write(data);
    assert.equal((await retry.finish(sha256(data))).sha256, sha256(data));
    await store.close();
  });

  it('accepts an uppercase SHA-256', async () => {
    const store = await Store.open(await newStoreDir(), quiet);
    const data = randomBytes(100);
    const upload = await store.beginUpload(offerFor(data));
    await upload.write(data);

    const entry = await upload.finish(sha256(data).toUpperCase());
    assert.equal(entry.sha256, sha256(data));
    await store.close();
  });

  it('rejects bytes beyond the offered size', async () => {
    const store = await Store.open(await newStoreDir(), quiet);
    const upload = await store.beginUpload(offerFor(randomBytes(100)));
    await upload.write(randomBytes(60));

    await assert.rejects(upload.write(randomBytes(41)), (error: unknown) => isSftError(error, 'PROTOCOL_VIOLATION'));
    await upload.write(randomBytes(40));
    await store.close();
  });

  it('rejects a finish before all bytes arrived', async () => {
    const store = await Store.open(await newStoreDir(), quiet);
    const data = randomBytes(100);
    const upload = await store.beginUpload(offerFor(data));
    await upload.write(data.subarray(0, 50));

    await assert.rejects(upload.finish(sha256(data)), (error: unknown) => isSftError(error, 'PROTOCOL_VIOLATION') && /after 50 of 100 bytes/.test(error.message));
    await upload.write(data.subarray(50));
    assert.equal((await upload.finish(sha256(data))).envelopeSize, 100);
    await store.close();
  });

  it('applies writes in call order', async () => {
    const store = await Store.open(await newStoreDir(), quiet);
    const data = randomBytes(256 * 1024);
    const upload = await store.beginUpload(offerFor(data));

    const writes: Promise<void>[] = [];
    for (let offset = 0; offset < data.length; offset += 1024) {
      writes.push(upload.write(data.subarray(offset, offset + 1024)));
    }
    await Promise.all(writes);

    const entry = await upload.finish(sha256(data));
    assert.ok((await readStream(store.openEnvelope(entry.id))).equals(data));
    await store.close();
  });

  it('resumes from the committed offset after close', async () => {
    const dir = await newStoreDir();
    const data = randomBytes(500_000);
    const offer = offerFor(data);

    const first = await Store.open(dir, quiet);
    const upload = await first.beginUpload(offer);
    await upload.write(data.subarray(0, 200_000));
    await upload.close();
    await first.close();

    const second = await Store.open(dir, quiet);
    const resumed = await second.beginUpload({ ...offer, remoteAddress: '127.0.0.2' });
    assert.equal(resumed.committedOffset, 200_000);

    await writeInChunks(resumed, data.subarray(200_000));
    const entry = await resumed.finish(sha256(data));
    assert.equal(entry.sha256, sha256(data));
    assert.equal(entry.remoteAddress, '127.0.0.2');
    assert.deepEqual(await fs.readdir(path.join(dir, 'partial')), []);
    await second.close();
  });

  it('keeps a small upload in memory until finish', async () => {
    const dir = await newStoreDir();
    const store = await Store.open(dir, quiet);
    const data = randomBytes(BUFFERED_UPLOAD_MAX_BYTES);
    const upload = await store.beginUpload(offerFor(data));
    await writeInChunks(upload, data);
    assert.deepEqual(await fs.readdir(path.join(dir, 'partial')), []);

    const entry = await upload.finish(sha256(data));
    assert.deepEqual(await fs.readdir(path.join(dir, 'partial')), []);
    assert.ok((await fs.readFile(path.join(dir, 'files', `${entry.id}.sft`))).equals(data));
    await store.close();
  });

  it('writes partial files at once above the in-memory limit', async () => {
    const dir = await newStoreDir();
    const store = await Store.open(dir, quiet);
    const upload = await store.beginUpload(offerFor(randomBytes(BUFFERED_UPLOAD_MAX_BYTES + 1)));
    assert.deepEqual((await fs.readdir(path.join(dir, 'partial'))).sort(), [`${upload.key}.json`, `${upload.key}.part`]);
    await store.close();
  });

  it('lists a stored file in index.json by close', async () => {
    const dir = await newStoreDir();
    const store = await Store.open(dir, quiet);
    const entry = await uploadWhole(store, randomBytes(1000));
    await store.close();
    const index = await fs.readFile(path.join(dir, 'index.json'), 'utf8');
    assert.ok(index.includes(entry.id));
  });

  it('checkpoints by itself every interval', async () => {
    const dir = await newStoreDir();
    const store = await Store.open(dir, { ...quiet, checkpointIntervalBytes: 100_000 });
    const data = randomBytes(350_000);
    const upload = await store.beginUpload(offerFor(data));

    await writeInChunks(upload, data.subarray(0, 250_000), 50_000);
    assert.equal(upload.committedOffset, 200_000);
    assert.equal(upload.writtenOffset, 250_000);
    assert.equal(await upload.checkpoint(), 250_000);
    await store.close();
  });

  it('starts over when the offer has other sizes', async () => {
    const dir = await newStoreDir();
    const logger = recordingLogger();
    const store = await Store.open(dir, { ...quiet, logger });
    const data = randomBytes(1000);
    const offer = offerFor(data);

    const upload = await store.beginUpload(offer);
    await upload.write(data.subarray(0, 400));
    await upload.close();

    const changed = await store.beginUpload({ ...offer, envelopeSize: 2000 });
    assert.equal(changed.committedOffset, 0);
    assert.ok(logger.lines.some((line) => line.startsWith('warn') && line.includes('started over')));
    await store.close();
  });

  it('keeps partials of different senders apart', async () => {
    const store = await Store.open(await newStoreDir(), quiet);
    const data = randomBytes(1000);
    const offer = offerFor(data, { transferId: 'same-id' });

    const alice = await store.beginUpload(offer);
    await alice.write(data.subarray(0, 600));
    await alice.close();

    const bob = await store.beginUpload({ ...offer, username: 'bob' });
    assert.equal(bob.committedOffset, 0);
    assert.notEqual(uploadKey('alice', 'same-id'), uploadKey('bob', 'same-id'));
    await store.close();
  });

  it('returns the stored entry when a finished transfer begins again', async () => {
    const dir = await newStoreDir();
    const store = await Store.open(dir, quiet);
    const data = randomBytes(5000);
    const offer = offerFor(data);
    const entry = await uploadWhole(store, data, offer);

    const again = await store.beginUpload(offer);
    assert.equal(again.isComplete, true);
    assert.equal(again.committedOffset, data.length);
    assert.deepEqual(await again.finish(sha256(data)), entry);
    await assert.rejects(
      (await store.beginUpload(offer)).finish(sha256(Buffer.from('x'))),
      (error: unknown) => isSftError(error, 'HASH_MISMATCH'),
    );
    assert.equal(store.list().length, 1);
    await store.close();
  });

  it('closes the older upload of a transfer that begins again', async () => {
    const store = await Store.open(await newStoreDir(), quiet);
    const data = randomBytes(2000);
    const offer = offerFor(data);

    const old = await store.beginUpload(offer);
    await old.write(data.subarray(0, 700));
    const fresh = await store.beginUpload(offer);

    assert.equal(fresh.committedOffset, 700);
    await assert.rejects(old.write(data.subarray(700, 800)), (error: unknown) => isSftError(error, 'TRANSFER_CANCELLED'));
    await fresh.write(data.subarray(700));
    assert.equal((await fresh.finish(sha256(data))).sha256, sha256(data));
    await store.close();
  });

  it('removes the partial on abort', async () => {
    const dir = await newStoreDir();
    const store = await Store.open(dir, quiet);
    const upload = await store.beginUpload(offerFor(randomBytes(1000)));
    await upload.write(randomBytes(100));
    await upload.abort();

    assert.deepEqual(await fs.readdir(path.join(dir, 'partial')), []);
    await assert.rejects(upload.write(randomBytes(1)), (error: unknown) => isSftError(error, 'TRANSFER_CANCELLED'));
    await store.close();
  });

  it('removes expired partials only', async () => {
    const dir = await newStoreDir();
    let now = Date.parse('2024-05-01T00:00:00Z');
    const store = await Store.open(dir, { ...quiet, now: () => now });

    const stale = await store.beginUpload(offerFor(randomBytes(1000)));
    await stale.write(randomBytes(10));
    await stale.close();

    now += 60 * 60 * 1000;
    const recent = await store.beginUpload(offerFor(randomBytes(1000)));
    await recent.write(randomBytes(10));
    await recent.close();
    // Above the in-memory limit, so it has partial files from the start.
    const active = await store.beginUpload(offerFor(randomBytes(BUFFERED_UPLOAD_MAX_BYTES + 1)));

    now += 30 * 60 * 1000;
    assert.equal(await store.removeExpiredPartials(2 * 60 * 60 * 1000), 0);
    now += 60 * 60 * 1000;
    // The stale partial is 2.5 h old, the recent one 1.5 h, the active one is in use.
    assert.equal(await store.removeExpiredPartials(2 * 60 * 60 * 1000), 1);

    const left = (await fs.readdir(path.join(dir, 'partial'))).sort();
    assert.deepEqual(left, [recent.key + '.json', recent.key + '.part', active.key + '.json', active.key + '.part'].sort());
    await store.close();
  });

  it('stores 32 concurrent uploads without mixing them up', async () => {
    const dir = await newStoreDir();
    const store = await Store.open(dir, { ...quiet, checkpointIntervalBytes: 256 * 1024 });
    const files = Array.from({ length: 32 }, (_, index) => randomBytes(10_000 + index * 37_000));

    const entries = await Promise.all(
      files.map(async (data, index) => {
        const upload = await store.beginUpload(offerFor(data, { displayName: `file-${index}.bin`, username: `user${index % 4}` }));
        for (let offset = 0; offset < data.length; offset += 16 * 1024) {
          await upload.write(data.subarray(offset, offset + 16 * 1024));
          await new Promise((resolve) => setImmediate(resolve));
        }
        return upload.finish(sha256(data));
      }),
    );

    await store.close();
    const index = JSON.parse(await fs.readFile(path.join(dir, 'index.json'), 'utf8')) as { entries: StoreEntry[] };
    assert.equal(index.entries.length, 32);

    const reopened = await Store.open(dir, quiet);
    assert.equal(reopened.list().length, 32);
    for (const [position, entry] of entries.entries()) {
      assert.equal(entry.displayName, `file-${position}.bin`);
      const stored = await readStream(reopened.openEnvelope(entry.id));
      assert.equal(sha256(stored), sha256(files[position]), entry.displayName);
    }
    await reopened.close();
  });
});

describe('Store limits', () => {
  it('rejects an envelope over maxFileSize', async () => {
    const store = await Store.open(await newStoreDir(), { ...quiet, maxFileSize: 1000 });

    await assert.rejects(store.beginUpload(offerFor(randomBytes(1001))), (error: unknown) => isSftError(error, 'FILE_TOO_LARGE') && error.message.includes('1000'));
    await uploadWhole(store, randomBytes(1000));
    await store.close();
  });

  it('rejects a file that does not fit beside the free-space margin', async () => {
    const dir = await newStoreDir();
    const store = await Store.open(dir, { minFreeBytes: Number.MAX_SAFE_INTEGER - 10 });

    await assert.rejects(store.beginUpload(offerFor(randomBytes(100))), (error: unknown) => isSftError(error, 'DISK_FULL') && /kept free/.test(error.message));
    await assert.rejects(store.checkSpace(100), (error: unknown) => isSftError(error, 'DISK_FULL'));
    assert.deepEqual(await fs.readdir(path.join(dir, 'partial')), []);
    await store.close();
  });

  it('counts uploads in progress against the free space', async () => {
    const dir = await newStoreDir();
    const probe = await Store.open(dir, quiet);
    const { bavail, bsize } = await fs.statfs(dir);
    const free = Number(bavail) * Number(bsize);
    await probe.close();

    // Leave room for about one declared 1 GiB upload beside the margin.
    const gib = 1024 * 1024 * 1024;
    const store = await Store.open(dir, { minFreeBytes: Math.max(0, free - gib - gib / 2) });
    const first = await store.beginUpload({ ...offerFor(Buffer.alloc(0)), envelopeSize: gib, plaintextSize: gib });

    await assert.rejects(store.beginUpload({ ...offerFor(Buffer.alloc(0)), envelopeSize: gib, plaintextSize: gib }), (error: unknown) => isSftError(error, 'DISK_FULL') && /uploads in progress/.test(error.message));
    await first.abort();
    const second = await store.beginUpload({ ...offerFor(Buffer.alloc(0)), envelopeSize: gib, plaintextSize: gib });
    await second.abort();
    await store.close();
  });

  it('rejects a second writer on the same store', async () => {
    const dir = await newStoreDir();
    const store = await Store.open(dir, quiet);
    await store.close();

    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    try {
      await fs.writeFile(path.join(dir, 'store.lock'), `${holder.pid}\n`);
      await assert.rejects(Store.open(dir, quiet), (error: unknown) => isSftError(error, 'IO_FAILED') && error.message.includes(String(holder.pid)));

      const reader = await Store.open(dir, { readOnly: true });
      assert.deepEqual(reader.list(), []);
      await reader.close();
    } finally {
      holder.kill();
    }
  });

  it('takes over the lock of a process that ended', async () => {
    const dir = await newStoreDir();
    const ended = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    await new Promise((resolve) => ended.on('exit', resolve));
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, 'store.lock'), `${ended.pid}\n`);

    const store = await Store.open(dir, quiet);
    assert.equal(await fs.readFile(path.join(dir, 'store.lock'), 'utf8'), `${process.pid}\n`);
    await store.close();
    await assert.rejects(fs.stat(path.join(dir, 'store.lock')));
  });

  it('changes nothing when read-only', async () => {
    const dir = await newStoreDir();
    const store = await Store.open(dir, quiet);
    const entry = await uploadWhole(store, randomBytes(100));
    await store.close();
    await fs.writeFile(path.join(dir, 'index.json'), 'damaged');
    await fs.writeFile(path.join(dir, 'files', 'x.json.abc.tmp'), 'leftover');

    const reader = await Store.open(dir, { readOnly: true });
    assert.deepEqual(reader.list(), [entry]);
    await assert.rejects(reader.beginUpload(offerFor(randomBytes(1))), (error: unknown) => isSftError(error, 'USAGE'));
    await assert.rejects(reader.remove(entry.id), (error: unknown) => isSftError(error, 'USAGE'));
    await reader.close();

    assert.equal(await fs.readFile(path.join(dir, 'index.json'), 'utf8'), 'damaged');
    assert.ok((await fs.readdir(path.join(dir, 'files'))).includes('x.json.abc.tmp'));
  });
});
