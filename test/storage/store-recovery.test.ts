import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { isSftError } from '../../src/errors';
import { StoreEntry } from '../../src/storage/entry';
import { Store, StoreLogger, uploadKey, UploadOffer } from '../../src/storage/store';

let root: string;

before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'sft-store-recovery-'));
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

function recordingLogger(): StoreLogger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (message) => lines.push(`info ${message}`),
    warn: (message) => lines.push(`warn ${message}`),
    error: (message) => lines.push(`error ${message}`),
  };
}

function offerFor(data: Uint8Array, transferId: string): UploadOffer {
  return {
    transferId,
    username: 'alice',
    remoteAddress: '127.0.0.1',
    displayName: `${transferId}.bin`,
    relativePath: '',
    envelopeSize: data.length,
    plaintextSize: data.length,
  };
}

async function uploadWhole(store: Store, data: Uint8Array, transferId: string): Promise<StoreEntry> {
  const upload = await store.beginUpload(offerFor(data, transferId));
  await upload.write(data);
  return upload.finish(sha256(data));
}

async function readStream(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Opens `dir` as a fresh store holding two stored files, and closes it. */
async function storeWithTwoFiles(dir: string): Promise<{ first: StoreEntry; second: StoreEntry; data: Map<string, Buffer> }> {
  const store = await Store.open(dir, { minFreeBytes: 0 });
  const firstData = randomBytes(3000);
  const secondData = randomBytes(4000);
  const first = await uploadWhole(store, firstData, 'first');
  const second = await uploadWhole(store, secondData, 'second');
  await store.close();
  return { first, second, data: new Map([[first.id, firstData], [second.id, secondData]]) };
}

/** Path of the compiled store module, for child processes. */
const storeModule = path.resolve(__dirname, '../../src/storage/store.js');

describe('Store recovery on open', () => {
  it('removes leftover temporary files', async () => {
    const dir = await newStoreDir();
    await storeWithTwoFiles(dir);
    const leftovers = [
      path.join(dir, 'index.json.0a1b2c3d4e5f.tmp'),
      path.join(dir, 'files', '00112233445566778899aabbccddeeff.json.0a1b2c3d4e5f.tmp'),
      path.join(dir, 'partial', 'abcdef.json.0a1b2c3d4e5f.tmp'),
    ];
    for (const file of leftovers) {
      await fs.writeFile(file, 'half-written');
    }
    // A temporary accounts file must be a minute old: another process may be writing it.
    const fresh = path.join(dir, 'accounts.json.0a1b2c3d4e5f.tmp');
    await fs.writeFile(fresh, 'being written');
    const stale = path.join(dir, 'accounts.json.0b1b2c3d4e5f.tmp');
    await fs.writeFile(stale, 'left by a crash');
    const old = new Date(Date.now() - 2 * 60 * 1000);
    await fs.utimes(stale, old, old);
    leftovers.push(stale);

    const logger = recordingLogger();
    const store = await Store.open(dir, { minFreeBytes: 0, logger });

    for (const file of leftovers) {
      await assert.rejects(fs.stat(file), { code: 'ENOENT' }, file);
    }
    assert.equal(logger.lines.filter((line) => line.includes('leftover temporary file')).length, 4);
    await fs.stat(fresh);
    assert.equal(store.list().length, 2);
    await store.close();
  });

  it('rebuilds a damaged index', async () => {
    const dir = await newStoreDir();
    const { first, second } = await storeWithTwoFiles(dir);
    await fs.writeFile(path.join(dir, 'index.json'), '{"version":1,"entries":[{"id":');

    const logger = recordingLogger();
    const store = await Store.open(dir, { minFreeBytes: 0, logger });

    assert.deepEqual(store.list(), [first, second]);
    assert.ok(logger.lines.some((line) => line.startsWith('warn') && line.includes('rebuilt') && line.includes('damaged')));
    const index = JSON.parse(await fs.readFile(path.join(dir, 'index.json'), 'utf8')) as { entries: StoreEntry[] };
    assert.equal(index.entries.length, 2);
    await store.close();
  });

  it('rebuilds an index with an invalid entry', async () => {
    const dir = await newStoreDir();
    const { first, second } = await storeWithTwoFiles(dir);
    const indexPath = path.join(dir, 'index.json');
    const index = JSON.parse(await fs.readFile(indexPath, 'utf8'));
    index.entries[0].id = '../../etc/passwd';
    await fs.writeFile(indexPath, JSON.stringify(index));

    const store = await Store.open(dir, { minFreeBytes: 0 });
    assert.deepEqual(store.list(), [first, second]);
    await store.close();
  });

  it('rebuilds a missing index', async () => {
    const dir = await newStoreDir();
    const { first, second, data } = await storeWithTwoFiles(dir);
    await fs.rm(path.join(dir, 'index.json'));

    const logger = recordingLogger();
    const store = await Store.open(dir, { minFreeBytes: 0, logger });

    assert.deepEqual(store.list(), [first, second]);
    assert.ok(logger.lines.some((line) => line.includes('missing')));
    assert.ok((await readStream(store.openEnvelope(first.id))).equals(data.get(first.id)!));
    await store.close();
  });

  it('rebuilds on request', async () => {
    const dir = await newStoreDir();
    const { first, second } = await storeWithTwoFiles(dir);
    const store = await Store.open(dir, { minFreeBytes: 0 });
    await fs.rm(path.join(dir, 'files', `${first.id}.sft`));
    await fs.rm(path.join(dir, 'files', `${first.id}.json`));

    await store.rebuildIndex();
    assert.deepEqual(store.list(), [second]);
    await store.close();
  });

  it('drops entries whose envelope is missing', async () => {
    const dir = await newStoreDir();
    const { first, second } = await storeWithTwoFiles(dir);
    await fs.rm(path.join(dir, 'files', `${first.id}.sft`));

    const logger = recordingLogger();
    const store = await Store.open(dir, { minFreeBytes: 0, logger });

    assert.deepEqual(store.list(), [second]);
    assert.ok(logger.lines.some((line) => line.startsWith('warn') && line.includes(`Dropped index entry ${first.id}`)));
    assert.ok(logger.lines.some((line) => line.includes(`Removed sidecar ${first.id}.json`)));
    const index = JSON.parse(await fs.readFile(path.join(dir, 'index.json'), 'utf8')) as { entries: StoreEntry[] };
    assert.deepEqual(index.entries.map((entry) => entry.id), [second.id]);
    await store.close();
  });

  it('adds envelopes missing from the index from their sidecars', async () => {
    const dir = await newStoreDir();
    const { first, second } = await storeWithTwoFiles(dir);
    const indexPath = path.join(dir, 'index.json');
    const index = JSON.parse(await fs.readFile(indexPath, 'utf8'));
    index.entries = index.entries.filter((entry: StoreEntry) => entry.id !== second.id);
    await fs.writeFile(indexPath, JSON.stringify(index));

    const logger = recordingLogger();
    const store = await Store.open(dir, { minFreeBytes: 0, logger });

    assert.deepEqual(store.list(), [first, second]);
    assert.ok(logger.lines.some((line) => line.includes(`Added stored file ${second.id}`)));
    await store.close();
  });

  it('leaves an envelope without sidecar unlisted and logs it', async () => {
    const dir = await newStoreDir();
    const { first, second } = await storeWithTwoFiles(dir);
    await fs.writeFile(path.join(dir, 'files', `${second.id}.json`), 'not json');
    await fs.rm(path.join(dir, 'index.json'));

    const logger = recordingLogger();
    const store = await Store.open(dir, { minFreeBytes: 0, logger });

    assert.deepEqual(store.list(), [first]);
    assert.ok(logger.lines.some((line) => line.startsWith('error') && line.includes(`${second.id}.sft is not listed`)));
    await fs.stat(path.join(dir, 'files', `${second.id}.sft`));
    await store.close();
  });

  it('removes partial data without a state file and keeps resumable partials', async () => {
    const dir = await newStoreDir();
    const data = randomBytes(10_000);
    const store = await Store.open(dir, { minFreeBytes: 0 });
    const upload = await store.beginUpload(offerFor(data, 'kept'));
    await upload.write(data.subarray(0, 4000));
    await upload.close();
    await store.close();
    await fs.writeFile(path.join(dir, 'partial', 'ffffffffffffffffffffffffffffffff.part'), 'orphan');

    const reopened = await Store.open(dir, { minFreeBytes: 0 });
    const names = (await fs.readdir(path.join(dir, 'partial'))).sort();
    const key = uploadKey('alice', 'kept');
    assert.deepEqual(names, [`${key}.json`, `${key}.part`]);
    assert.equal((await reopened.beginUpload(offerFor(data, 'kept'))).committedOffset, 4000);
    await reopened.close();
  });

  it('cuts uncommitted bytes when a partial is reopened', async () => {
    const dir = await newStoreDir();
    const data = randomBytes(10_000);
    const store = await Store.open(dir, { minFreeBytes: 0 });
    const upload = await store.beginUpload(offerFor(data, 'cut'));
    await upload.write(data.subarray(0, 3000));
    await upload.close();
    await store.close();

    // A crash after more bytes reached the file but before the next checkpoint.
    await fs.appendFile(path.join(dir, 'partial', `${uploadKey('alice', 'cut')}.part`), randomBytes(500));

    const reopened = await Store.open(dir, { minFreeBytes: 0 });
    const resumed = await reopened.beginUpload(offerFor(data, 'cut'));
    assert.equal(resumed.committedOffset, 3000);
    await resumed.write(data.subarray(3000));
    assert.equal((await resumed.finish(sha256(data))).sha256, sha256(data));
    await reopened.close();
  });

  it('finishes a partial that was complete before a crash', async () => {
    const dir = await newStoreDir();
    const data = randomBytes(20_000);
    const store = await Store.open(dir, { minFreeBytes: 0 });
    const upload = await store.beginUpload(offerFor(data, 'complete'));
    await upload.write(data);
    await upload.close();
    await store.close();

    const reopened = await Store.open(dir, { minFreeBytes: 0 });
    assert.deepEqual(reopened.list(), []);
    const resumed = await reopened.beginUpload(offerFor(data, 'complete'));
    assert.equal(resumed.committedOffset, data.length);
    assert.equal((await resumed.finish(sha256(data))).sha256, sha256(data));
    await reopened.close();
  });

  it('recognizes a transfer stored just before a crash', async () => {
    const dir = await newStoreDir();
    const data = randomBytes(20_000);
    const store = await Store.open(dir, { minFreeBytes: 0 });
    const entry = await uploadWhole(store, data, 'stored');
    await store.close();

    // The crash came after the rename into files/ but before the index and the partial
    // state file were updated.
    const key = uploadKey('alice', 'stored');
    const state = { version: 1, ...offerFor(data, 'stored'), displayName: 'stored.bin', committedOffset: data.length, createdAt: entry.receivedAt, updatedAt: entry.receivedAt };
    await fs.writeFile(path.join(dir, 'partial', `${key}.json`), JSON.stringify(state));
    await fs.writeFile(path.join(dir, 'index.json'), '{"version":1,"entries":[]}');

    const reopened = await Store.open(dir, { minFreeBytes: 0 });
    assert.deepEqual(reopened.list(), [entry]);
    const again = await reopened.beginUpload(offerFor(data, 'stored'));
    assert.equal(again.isComplete, true);
    assert.deepEqual(await again.finish(sha256(data)), entry);
    assert.deepEqual(await fs.readdir(path.join(dir, 'partial')), []);
    assert.equal(reopened.list().length, 1);
    await reopened.close();
  });
});

describe('Store after SIGKILL', () => {
  it('resumes from the last checkpoint of a killed process', async () => {
    const dir = await newStoreDir();
    const data = randomBytes(400_000);
    const dataFile = path.join(path.dirname(dir), 'data.bin');
    await fs.writeFile(dataFile, data);

    const script = `
      const { Store } = require(${JSON.stringify(storeModule)});
      const fs = require('node:fs');
      (async () => {
        const data = fs.readFileSync(${JSON.stringify(dataFile)});
        const store = await Store.open(${JSON.stringify(dir)}, { minFreeBytes: 0, checkpointIntervalBytes: 1e9 });
        const upload = await store.beginUpload({ transferId: 'killed', username: 'alice', remoteAddress: '127.0.0.1',
          displayName: 'killed.bin', relativePath: '', envelopeSize: data.length, plaintextSize: data.length });
        await upload.write(data.subarray(0, 300000));
        await upload.checkpoint();
        await upload.write(data.subarray(300000, 350000));
        process.kill(process.pid, 'SIGKILL');
      })();
    `;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const signal = await new Promise((resolve) => child.on('exit', (_code, exitSignal) => resolve(exitSignal)));
    assert.equal(signal, 'SIGKILL', stderr);

    const store = await Store.open(dir, { minFreeBytes: 0 });
    assert.deepEqual(store.list(), []);
    const resumed = await store.beginUpload(offerFor(data, 'killed'));
    assert.equal(resumed.committedOffset, 300_000);
    await resumed.write(data.subarray(300_000));
    const entry = await resumed.finish(sha256(data));
    assert.ok((await readStream(store.openEnvelope(entry.id))).equals(data));
    await store.close();
  });

  it('keeps every listed file whole when killed during uploads', async () => {
    // Seeded kill times, so a failure can be reproduced.
    const killDelaysMs = [15, 40, 70, 110, 160, 220];
    const dir = await newStoreDir();
    const script = `
      const { Store } = require(${JSON.stringify(storeModule)});
      const { randomBytes, createHash } = require('node:crypto');
      (async () => {
        const store = await Store.open(${JSON.stringify(dir)}, { minFreeBytes: 0, checkpointIntervalBytes: 32768 });
        for (let round = 0; ; round += 1) {
          await Promise.all(Array.from({ length: 8 }, async (_, slot) => {
            const data = randomBytes(20000 + slot * 9000);
            const upload = await store.beginUpload({ transferId: process.pid + '-' + round + '-' + slot, username: 'alice',
              remoteAddress: '127.0.0.1', displayName: 'f.bin', relativePath: '', envelopeSize: data.length, plaintextSize: data.length });
            for (let offset = 0; offset < data.length; offset += 8192) {
              await upload.write(data.subarray(offset, offset + 8192));
            }
            await upload.finish(createHash('sha256').update(data).digest('hex'));
          }));
          if (round === 0) process.stdout.write('started\\n');
        }
      })();
    `;

    let partialsLeftByKills = 0;
    for (const delayMs of killDelaysMs) {
      const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      child.kill('SIGKILL');
      await new Promise((resolve) => child.on('exit', resolve));

      const store = await Store.open(dir, { minFreeBytes: 0 });
      const entries = store.list();
      assert.ok(entries.length >= 8, `after a kill at ${delayMs} ms: ${entries.length} entries`);
      for (const entry of entries) {
        const stored = await readStream(store.openEnvelope(entry.id));
        assert.equal(stored.length, entry.envelopeSize, `entry ${entry.id} after a kill at ${delayMs} ms`);
        assert.equal(sha256(stored), entry.sha256, `entry ${entry.id} after a kill at ${delayMs} ms`);
      }
      const names = [...(await fs.readdir(dir)), ...(await fs.readdir(path.join(dir, 'files')))];
      assert.ok(!names.some((name) => name.endsWith('.tmp')), 'temporary files left after open');
      JSON.parse(await fs.readFile(path.join(dir, 'index.json'), 'utf8'));
      partialsLeftByKills += await store.removeExpiredPartials(0);
      await store.close();
    }
    // Proves that the kills hit uploads in progress, not only the gaps between them.
    assert.ok(partialsLeftByKills > 0);
  });
});

describe('Store on a full disk', () => {
  let mountPoint: string | undefined;
  let mountError: string | undefined;

  before(async () => {
    const candidate = await fs.mkdtemp(path.join(os.tmpdir(), 'sft-tmpfs-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'tmpfs', candidate], { stdio: 'pipe' });
      mountPoint = candidate;
    } catch (error) {
      mountError = error instanceof Error ? error.message.split('\n')[0] : String(error);
      await fs.rmdir(candidate);
    }
  });

  after(async () => {
    if (mountPoint === undefined) {
      return;
    }
    try {
      execFileSync('umount', [mountPoint], { stdio: 'pipe' });
    } catch {
      execFileSync('umount', ['-l', mountPoint], { stdio: 'pipe' });
    }
    await fs.rmdir(mountPoint);
  });

  /** Writes a file until the disk is full; returns its path. */
  async function fillDisk(folder: string): Promise<string> {
    const filler = path.join(folder, 'filler');
    const handle = await fs.open(filler, 'w');
    try {
      const block = Buffer.alloc(16 * 1024, 1);
      for (;;) {
        await handle.write(block);
      }
    } catch (error) {
      assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC');
    } finally {
      await handle.close();
    }
    return filler;
  }

  it('rejects, keeps earlier files and recovers when space returns', async (t) => {
    if (mountPoint === undefined) {
      t.skip(`mounting a 2 MiB tmpfs is not permitted here (${mountError}); run the tests as root to cover a full disk`);
      return;
    }
    const dir = path.join(mountPoint, 'store');
    const logger = recordingLogger();
    const store = await Store.open(dir, { minFreeBytes: 64 * 1024, logger });

    const earlierData = randomBytes(600 * 1024);
    const earlier = await uploadWhole(store, earlierData, 'earlier');

    // Too large for the free space: rejected before a byte is sent.
    const tooLarge = { ...offerFor(Buffer.alloc(0), 'too-large'), envelopeSize: 3 * 1024 * 1024, plaintextSize: 3 * 1024 * 1024 };
    await assert.rejects(store.beginUpload(tooLarge), (error: unknown) => isSftError(error, 'DISK_FULL') && /only \d+ bytes are available/.test(error.message));

    // Accepted, then the disk fills up underneath it.
    const laterData = randomBytes(500 * 1024);
    const later = await store.beginUpload(offerFor(laterData, 'later'));
    await later.write(laterData.subarray(0, 100 * 1024));
    await later.checkpoint();
    const filler = await fillDisk(mountPoint);

    await assert.rejects(later.write(laterData.subarray(100 * 1024)), (error: unknown) => isSftError(error, 'DISK_FULL') && /102400 bytes committed/.test(error.message));
    await assert.rejects(uploadWhole(store, randomBytes(1000), 'while-full'), (error: unknown) => isSftError(error, 'DISK_FULL'));

    // Earlier files are intact, before and after a restart.
    assert.ok((await readStream(store.openEnvelope(earlier.id))).equals(earlierData));
    await store.close();
    const reopened = await Store.open(dir, { minFreeBytes: 64 * 1024 });
    assert.deepEqual(reopened.list(), [earlier]);
    assert.ok((await readStream(reopened.openEnvelope(earlier.id))).equals(earlierData));

    // Space returns: the upload resumes from its committed offset and finishes.
    await fs.rm(filler);
    const resumed = await reopened.beginUpload(offerFor(laterData, 'later'));
    assert.equal(resumed.committedOffset, 100 * 1024);
    await resumed.write(laterData.subarray(100 * 1024));
    const stored = await resumed.finish(sha256(laterData));
    assert.ok((await readStream(reopened.openEnvelope(stored.id))).equals(laterData));
    assert.equal(reopened.list().length, 2);
    await reopened.close();
  });

  it('reports a full disk at finish and finishes after space returns', async (t) => {
    if (mountPoint === undefined) {
      t.skip(`mounting a 2 MiB tmpfs is not permitted here (${mountError}); run the tests as root to cover a full disk`);
      return;
    }
    const dir = path.join(mountPoint, 'store-finish');
    const store = await Store.open(dir, { minFreeBytes: 0 });
    const data = randomBytes(200 * 1024);
    const upload = await store.beginUpload(offerFor(data, 'at-finish'));
    await upload.write(data);
    const filler = await fillDisk(mountPoint);

    await assert.rejects(upload.finish(sha256(data)), (error: unknown) => isSftError(error, 'DISK_FULL'));
    assert.deepEqual(store.list(), []);

    await fs.rm(filler);
    const resumed = await store.beginUpload(offerFor(data, 'at-finish'));
    await resumed.write(data.subarray(resumed.committedOffset));
    const entry = await resumed.finish(sha256(data));
    assert.ok((await readStream(store.openEnvelope(entry.id))).equals(data));
    await store.close();
  });
});
