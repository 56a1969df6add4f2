// The pool is read on first use, so this file's streams all go through two worker threads.
process.env.SFT_CRYPTO_THREADS = '2';

import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { CHUNK_SIZE, EnvelopeWriter, SEALED_CHUNK_SIZE, openEnvelope } from '../../src/crypto';
import { chunkPool } from '../../src/crypto/chunk-pool';
import { isSftError } from '../../src/errors';

const PASSPHRASE = 'pool passphrase';
const ITERATIONS = 100_000;

async function writerFor(size: number): Promise<EnvelopeWriter> {
  return EnvelopeWriter.create([{ kind: 'passphrase', passphrase: PASSPHRASE, iterations: ITERATIONS }], { name: 'pool.bin', size, mtimeMs: null });
}

/** Seals through the stream in 300,000-byte pieces, so batches and leftovers both occur. */
async function sealStreamed(writer: EnvelopeWriter, plaintext: Buffer): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let offset = 0; offset < plaintext.length; offset += 300_000) pieces.push(plaintext.subarray(offset, offset + 300_000));
  const sealed: Buffer[] = [writer.header];
  for await (const part of Readable.from(pieces).pipe(writer.createPayloadStream())) sealed.push(part as Buffer);
  return Buffer.concat(sealed);
}

async function openAll(envelope: Buffer): Promise<Buffer> {
  const opened = await openEnvelope(Readable.from([envelope]), { passphrase: PASSPHRASE });
  const parts: Buffer[] = [];
  for await (const part of opened.payload) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

async function rejection(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isSftError(error), `expected an SftError, got ${String(error)}`);
    return { code: error.code, message: error.message };
  }
  assert.fail('expected a rejection');
}

test('pool is on with SFT_CRYPTO_THREADS=2', () => {
  assert.notEqual(chunkPool(), undefined);
});

test('pooled seal gives the single-thread bytes', async () => {
  for (const size of [CHUNK_SIZE * 16, CHUNK_SIZE * 16 + 1, 5 * 1024 * 1024 + 12_345]) {
    const plaintext = crypto.randomBytes(size);
    const writer = await writerFor(size);
    const envelope = await sealStreamed(writer, plaintext);
    assert.ok(envelope.equals(writer.sealWhole(plaintext)), `${size} bytes`);
    assert.ok((await openAll(envelope)).equals(plaintext), `${size} bytes open`);
  }
});

test('pooled open names a tampered chunk', async () => {
  const plaintext = crypto.randomBytes(3 * 1024 * 1024);
  const writer = await writerFor(plaintext.length);
  const envelope = writer.sealWhole(plaintext);
  envelope[writer.header.length + 5 * SEALED_CHUNK_SIZE + 7] ^= 0x01;
  const failure = await rejection(openAll(envelope));
  assert.equal(failure.code, 'ENVELOPE_PAYLOAD_TAMPERED');
  assert.match(failure.message, /Chunk 5 /);
});

test('pooled open tells appended data from tampering', async () => {
  // 32 full chunks, so the last one sits inside the second batch once a copy follows it.
  const plaintext = crypto.randomBytes(32 * CHUNK_SIZE);
  const writer = await writerFor(plaintext.length);
  const envelope = writer.sealWhole(plaintext);
  const lastChunk = envelope.subarray(envelope.length - SEALED_CHUNK_SIZE);
  const failure = await rejection(openAll(Buffer.concat([envelope, lastChunk])));
  assert.equal(failure.code, 'ENVELOPE_TRAILING_DATA');
  assert.match(failure.message, /chunk 31/);
});
