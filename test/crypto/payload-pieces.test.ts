import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { before, describe, test } from 'node:test';
import { CHUNK_SIZE, SEALED_CHUNK_SIZE } from '../../src/crypto';
import { createOpenStream, createSealStream } from '../../src/crypto/payload';
import { isSftError } from '../../src/errors';

const TAG_SIZE = 16;
const PLAINTEXT_SIZE = 3 * CHUNK_SIZE + 1000;

async function collect(source: Iterable<Buffer>, transform: NodeJS.ReadWriteStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      parts.push(chunk);
      callback();
    },
  });
  await pipeline(Readable.from(source), transform, sink);
  return Buffer.concat(parts);
}

/** Cuts `bytes` at the given offsets. */
function cut(bytes: Buffer, offsets: number[]): Buffer[] {
  const pieces: Buffer[] = [];
  let start = 0;
  for (const offset of [...offsets, bytes.length]) {
    pieces.push(bytes.subarray(start, offset));
    start = offset;
  }
  return pieces;
}

describe('payload opened from pieces', () => {
  const key = crypto.randomBytes(32);
  const plaintext = crypto.randomBytes(PLAINTEXT_SIZE);
  let sealed: Buffer;

  before(async () => {
    sealed = await collect([plaintext], createSealStream(key));
  });

  test('sealed size has four tags', () => {
    assert.equal(sealed.length, PLAINTEXT_SIZE + 4 * TAG_SIZE);
  });

  const cases: { label: string; offsets: () => number[] }[] = [
    { label: '64 KiB reads, as from a pipe', offsets: () => [65536, 131072, 196608] },
    { label: 'cut inside the first tag', offsets: () => [SEALED_CHUNK_SIZE - 7] },
    { label: 'cut just before and after a tag', offsets: () => [SEALED_CHUNK_SIZE - TAG_SIZE, SEALED_CHUNK_SIZE - 1, SEALED_CHUNK_SIZE + 1] },
    { label: 'tag in three pieces', offsets: () => [2 * SEALED_CHUNK_SIZE - 10, 2 * SEALED_CHUNK_SIZE - 5] },
    { label: 'pieces of 4093 bytes', offsets: () => Array.from({ length: Math.floor(sealed.length / 4093) }, (_, i) => (i + 1) * 4093) },
  ];
  for (const { label, offsets } of cases) {
    test(label, async () => {
      const opened = await collect(cut(sealed, offsets()), createOpenStream(key, { expectedSize: PLAINTEXT_SIZE }));
      assert.equal(opened.length, PLAINTEXT_SIZE);
      assert.ok(opened.equals(plaintext));
    });
  }

  test('tampered tag split across pieces', async () => {
    const tampered = Buffer.from(sealed);
    tampered[SEALED_CHUNK_SIZE - 3] ^= 0x01;
    const pieces = cut(tampered, [SEALED_CHUNK_SIZE - 7]);
    await assert.rejects(
      collect(pieces, createOpenStream(key, { expectedSize: PLAINTEXT_SIZE })),
      (error: unknown) => isSftError(error, 'ENVELOPE_PAYLOAD_TAMPERED'),
    );
  });
});
