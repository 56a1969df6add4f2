import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { decryptFile, openEnvelope } from '../../src/crypto';
import { isSftError } from '../../src/errors';
import { VECTOR_DIR, VectorEntry, buildDeterministicVectors } from './vector-builder';

async function loadEntries(): Promise<VectorEntry[]> {
  return JSON.parse(await fs.readFile(path.join(VECTOR_DIR, 'vectors.json'), 'utf8')) as VectorEntry[];
}

async function identitiesFor(entry: VectorEntry): Promise<{ passphrase?: string; privateKeys?: crypto.KeyObject[] }> {
  const privateKeys = entry.identity
    ? [crypto.createPrivateKey(await fs.readFile(path.join(VECTOR_DIR, entry.identity)))]
    : undefined;
  return { passphrase: entry.passphrase, privateKeys };
}

test('deterministic vectors match the committed bytes', async () => {
  const built = await buildDeterministicVectors();
  assert.ok(built.length >= 8);
  for (const { entry, bytes } of built) {
    const committed = await fs.readFile(path.join(VECTOR_DIR, entry.file));
    assert.ok(committed.equals(bytes), `${entry.file} differs from what the writer produces now`);
  }
});

test('positive vectors decrypt to the expected plaintext', async () => {
  const positives = (await loadEntries()).filter((entry) => !entry.expectedError);
  assert.ok(positives.length >= 3);
  for (const entry of positives) {
    const opened = await openEnvelope(createReadStream(path.join(VECTOR_DIR, entry.file)), await identitiesFor(entry));
    const hash = crypto.createHash('sha256');
    for await (const chunk of opened.payload) hash.update(chunk as Buffer);
    assert.equal(hash.digest('hex'), entry.plaintextSha256, entry.file);
    assert.deepEqual(opened.metadata, entry.metadata, entry.file);
  }
});

test('negative vectors fail with their error and write nothing', async () => {
  const negatives = (await loadEntries()).filter((entry) => entry.expectedError);
  assert.ok(negatives.length >= 6);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sft-vectors-'));
  try {
    for (const entry of negatives) {
      const target = path.join(dir, `${entry.file}.out`);
      await assert.rejects(decryptFile(path.join(VECTOR_DIR, entry.file), target, await identitiesFor(entry)), (error: unknown) => {
        assert.ok(isSftError(error), `${entry.file}: expected SftError, got ${String(error)}`);
        assert.equal(error.code, entry.expectedError, entry.file);
        return true;
      });
      assert.deepEqual(await fs.readdir(dir), [], `${entry.file} left a file behind`);
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
