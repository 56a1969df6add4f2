/**
 * Tamper suite: every header byte and 10,000 seeded payload positions changed, truncation,
 * an appended chunk and swapped chunks. Each damaged envelope must fail with a typed error,
 * and the decryption target must not exist afterwards.
 *
 * Envelopes are decrypted from memory through decryptFile, the code path of `sft decrypt`.
 * The payload positions use an RSA-only envelope, because its file key unwraps in about a
 * millisecond, where a passphrase stanza costs a PBKDF2 run of at least 100,000 iterations.
 */
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Identities } from '../../src/crypto';
import { CHUNK_SIZE, SEALED_CHUNK_SIZE } from '../../src/crypto';
import { SftErrorCode, isSftError } from '../../src/errors';
import { ENVELOPE_ERROR_CODES, decryptBuffer, describeError, sealToBuffer } from './envelope-helpers';
import { SeededRandom, suiteSeed } from './seeded-random';

const SEED = suiteSeed(0x5f7a_3be1);
const PAYLOAD_POSITIONS = 10_000;
const ITERATIONS = 100_000;
const PASSPHRASE = 'tamper suite passphrase';
/** Four full chunks and a short last one, so there are inner, full and short chunks to damage. */
const PLAINTEXT_BYTES = 4 * CHUNK_SIZE + 1000;
/** How many passphrase+RSA openings run at once; PBKDF2 runs on libuv's thread pool. */
const PBKDF2_CONCURRENCY = 4;

/** Codes a changed header byte may produce. A payload code would mean the header was trusted. */
const HEADER_CODES: readonly SftErrorCode[] = ENVELOPE_ERROR_CODES.filter(
  (code) => code !== 'ENVELOPE_PAYLOAD_TAMPERED' && code !== 'ENVELOPE_TRAILING_DATA',
);

let dir: string;
let target: string;
let plaintext: Buffer;
let rsa: crypto.KeyPairKeyObjectResult;
let rsaOnly: { envelope: Buffer; headerLength: number };
let combined: { envelope: Buffer; headerLength: number };
let rsaIdentities: Identities;
let combinedIdentities: Identities;

function replay(what: string): string {
  return `${what} (seed ${SEED}; replay with SFT_HOSTILE_SEED=${SEED})`;
}

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sft-tamper-'));
  target = path.join(dir, 'decrypted.bin');
  rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  plaintext = Buffer.from(new SeededRandom(SEED, 1).bytes(PLAINTEXT_BYTES));
  rsaOnly = await sealToBuffer([{ kind: 'rsa', publicKey: rsa.publicKey }], plaintext);
  combined = await sealToBuffer([{ kind: 'passphrase+rsa', passphrase: PASSPHRASE, publicKey: rsa.publicKey, iterations: ITERATIONS }], plaintext);
  rsaIdentities = { privateKeys: [rsa.privateKey] };
  combinedIdentities = { passphrase: PASSPHRASE, privateKeys: [rsa.privateKey] };
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** Counts error codes, for a diagnostic line that shows which checks caught the damage. */
class CodeTally {
  private readonly counts = new Map<string, number>();

  add(code: string): void {
    this.counts.set(code, (this.counts.get(code) ?? 0) + 1);
  }

  toString(): string {
    return [...this.counts].sort().map(([code, count]) => `${code} ${count}`).join(', ');
  }
}

/**
 * Decrypts `bytes`, which must fail with one of `codes`, and checks that the target does
 * not exist. Returns the code for the tally.
 */
async function expectRejected(bytes: Buffer, identities: Identities, codes: readonly SftErrorCode[], what: string): Promise<string> {
  const outcome = await decryptBuffer(bytes, target, identities);
  assert.equal(outcome.ok, false, replay(`${what}: decryption succeeded`));
  const error = (outcome as { error: unknown }).error;
  assert.ok(isSftError(error, ...codes), replay(`${what}: expected one of ${codes.join(', ')}, got ${describeError(error)}`));
  assert.ok(!error.message.includes(PASSPHRASE), replay(`${what}: the error message contains the passphrase`));
  await assert.rejects(fs.stat(target), { code: 'ENOENT' }, replay(`${what}: the target exists after a failure`));
  return error.code;
}

async function assertNoLeftovers(): Promise<void> {
  assert.deepEqual(await fs.readdir(dir), [], 'temporary files were left beside the target');
}

/** Returns the offsets of every sealed chunk in `envelope`. */
function chunkOffsets(envelope: Buffer, headerLength: number): number[] {
  const offsets: number[] = [];
  for (let offset = headerLength; offset < envelope.length; offset += SEALED_CHUNK_SIZE) offsets.push(offset);
  return offsets;
}

describe('tamper: intact envelopes', () => {
  test('intact envelopes decrypt to the plaintext', async () => {
    for (const [label, sealed, identities] of [['rsa', rsaOnly, rsaIdentities], ['passphrase+rsa', combined, combinedIdentities]] as const) {
      const outcome = await decryptBuffer(sealed.envelope, target, identities);
      assert.deepEqual(outcome, { ok: true }, `${label}: ${outcome.ok ? '' : describeError(outcome.error)}`);
      assert.ok((await fs.readFile(target)).equals(plaintext), `${label}: the plaintext differs`);
      await fs.rm(target);
    }
    assert.equal(chunkOffsets(rsaOnly.envelope, rsaOnly.headerLength).length, 5);
  });
});

describe('tamper: header', () => {
  test('every RSA header byte changed three ways', async (t) => {
    const random = new SeededRandom(SEED, 2);
    const tally = new CodeTally();
    for (let position = 0; position < rsaOnly.headerLength; position++) {
      for (const mask of [0x01, 0x80, random.nonZeroByte()]) {
        const damaged = Buffer.from(rsaOnly.envelope);
        damaged[position] ^= mask;
        tally.add(await expectRejected(damaged, rsaIdentities, HEADER_CODES, `header byte ${position} XOR 0x${mask.toString(16)}`));
      }
    }
    await assertNoLeftovers();
    t.diagnostic(`rsa header (${rsaOnly.headerLength} bytes, 3 changes each): ${tally}`);
  });

  test('every passphrase+RSA header byte changed', { timeout: 180_000 }, async (t) => {
    // XOR 0x01 keeps a changed iteration count below 10,000,000, where one PBKDF2 run would take seconds.
    const tally = new CodeTally();
    const positions = Array.from({ length: combined.headerLength }, (_, i) => i);
    const targets = Array.from({ length: PBKDF2_CONCURRENCY }, (_, i) => path.join(dir, `combined-${i}.bin`));
    await Promise.all(targets.map(async (lane, laneIndex) => {
      for (let index = laneIndex; index < positions.length; index += PBKDF2_CONCURRENCY) {
        const position = positions[index];
        const damaged = Buffer.from(combined.envelope);
        damaged[position] ^= 0x01;
        const outcome = await decryptBuffer(damaged, lane, combinedIdentities);
        const what = `passphrase+rsa header byte ${position} XOR 0x01`;
        assert.equal(outcome.ok, false, replay(`${what}: decryption succeeded`));
        const error = (outcome as { error: unknown }).error;
        assert.ok(isSftError(error, ...HEADER_CODES), replay(`${what}: got ${describeError(error)}`));
        await assert.rejects(fs.stat(lane), { code: 'ENOENT' }, replay(`${what}: the target exists`));
        tally.add(error.code);
      }
    }));
    await assertNoLeftovers();
    t.diagnostic(`passphrase+rsa header (${combined.headerLength} bytes): ${tally}`);
  });
});

describe('tamper: payload', () => {
  test('10,000 seeded payload positions changed', { timeout: 300_000 }, async () => {
    const random = new SeededRandom(SEED, 3);
    const payloadBytes = rsaOnly.envelope.length - rsaOnly.headerLength;
    const damaged = Buffer.from(rsaOnly.envelope);
    for (let i = 0; i < PAYLOAD_POSITIONS; i++) {
      const position = rsaOnly.headerLength + random.below(payloadBytes);
      const mask = random.nonZeroByte();
      damaged[position] ^= mask;
      await expectRejected(damaged, rsaIdentities, ['ENVELOPE_PAYLOAD_TAMPERED'], `input ${i}: payload byte ${position} XOR 0x${mask.toString(16)}`);
      damaged[position] ^= mask;
    }
    await assertNoLeftovers();
  });

  test('each tag byte of each chunk changed', async () => {
    // The tags are 80 of the 263,000 payload bytes, so random positions rarely hit them.
    for (const offset of chunkOffsets(rsaOnly.envelope, rsaOnly.headerLength)) {
      const end = Math.min(offset + SEALED_CHUNK_SIZE, rsaOnly.envelope.length);
      for (let position = end - 16; position < end; position++) {
        const damaged = Buffer.from(rsaOnly.envelope);
        damaged[position] ^= 0x01;
        await expectRejected(damaged, rsaIdentities, ['ENVELOPE_PAYLOAD_TAMPERED'], `tag byte ${position}`);
      }
    }
    await assertNoLeftovers();
  });
});

describe('tamper: truncation and reordering', () => {
  test('truncation at every chunk boundary', async () => {
    for (const offset of chunkOffsets(rsaOnly.envelope, rsaOnly.headerLength)) {
      await expectRejected(rsaOnly.envelope.subarray(0, offset), rsaIdentities, ['ENVELOPE_TRUNCATED'], `cut at chunk boundary ${offset}`);
    }
    await assertNoLeftovers();
  });

  test('truncation inside every chunk and the header', async () => {
    // A cut inside a chunk leaves a short last chunk whose tag fails. The reader cannot tell
    // it from a changed chunk, unless the remainder is shorter than a tag.
    const random = new SeededRandom(SEED, 4);
    const envelope = rsaOnly.envelope;
    for (const offset of chunkOffsets(envelope, rsaOnly.headerLength)) {
      const end = Math.min(offset + SEALED_CHUNK_SIZE, envelope.length);
      const cuts = [offset + 1, offset + 15, offset + 16, offset + 17, end - 1, offset + 1 + random.below(end - offset - 1)];
      for (const cut of cuts) {
        const code: SftErrorCode = cut - offset < 16 ? 'ENVELOPE_TRUNCATED' : 'ENVELOPE_PAYLOAD_TAMPERED';
        await expectRejected(envelope.subarray(0, cut), rsaIdentities, [code], `cut at ${cut} inside the chunk at ${offset}`);
      }
    }
    for (const cut of [0, 1, 4, 8, 9, 10, rsaOnly.headerLength - 1, random.below(rsaOnly.headerLength)]) {
      await expectRejected(envelope.subarray(0, cut), rsaIdentities, ['ENVELOPE_TRUNCATED'], `cut at ${cut} inside the header`);
    }
    await assertNoLeftovers();
  });

  test('appended chunk and appended bytes', async () => {
    const envelope = rsaOnly.envelope;
    const offsets = chunkOffsets(envelope, rsaOnly.headerLength);
    const firstChunk = envelope.subarray(offsets[0], offsets[0] + SEALED_CHUNK_SIZE);
    const lastChunk = envelope.subarray(offsets[offsets.length - 1]);
    // The last chunk here is short, so appended bytes join it and its tag fails.
    const cases: Array<[string, Buffer, SftErrorCode[]]> = [
      ['a copy of the last chunk', Buffer.concat([envelope, lastChunk]), ['ENVELOPE_PAYLOAD_TAMPERED']],
      ['a copy of the first chunk', Buffer.concat([envelope, firstChunk]), ['ENVELOPE_PAYLOAD_TAMPERED']],
      ['one zero byte', Buffer.concat([envelope, Buffer.alloc(1)]), ['ENVELOPE_PAYLOAD_TAMPERED']],
      ['16 zero bytes, an empty chunk with a zero tag', Buffer.concat([envelope, Buffer.alloc(16)]), ['ENVELOPE_PAYLOAD_TAMPERED']],
    ];
    for (const [what, bytes, codes] of cases) {
      await expectRejected(bytes, rsaIdentities, codes, `appended ${what}`);
    }
    await assertNoLeftovers();
  });

  test('full last chunk followed by a copy of it', async () => {
    // With a plaintext of whole chunks, the last chunk is full, so an appended copy has the
    // size of a regular chunk and only the flag in its nonce sets it apart.
    const exact = await sealToBuffer([{ kind: 'rsa', publicKey: rsa.publicKey }], plaintext.subarray(0, 2 * CHUNK_SIZE));
    const last = exact.envelope.subarray(exact.envelope.length - SEALED_CHUNK_SIZE);
    await expectRejected(Buffer.concat([exact.envelope, last]), rsaIdentities, ['ENVELOPE_TRAILING_DATA'], 'appended copy of a full last chunk');
    await assertNoLeftovers();
  });

  test('every pair of chunks swapped, and a chunk replayed', async () => {
    const envelope = rsaOnly.envelope;
    const offsets = chunkOffsets(envelope, rsaOnly.headerLength);
    const full = offsets.slice(0, -1);
    for (let i = 0; i < full.length; i++) {
      for (let j = i + 1; j < full.length; j++) {
        const swapped = Buffer.from(envelope);
        envelope.copy(swapped, full[i], full[j], full[j] + SEALED_CHUNK_SIZE);
        envelope.copy(swapped, full[j], full[i], full[i] + SEALED_CHUNK_SIZE);
        await expectRejected(swapped, rsaIdentities, ['ENVELOPE_PAYLOAD_TAMPERED'], `chunks ${i} and ${j} swapped`);
      }
    }
    const replayed = Buffer.from(envelope);
    envelope.copy(replayed, full[1], full[0], full[0] + SEALED_CHUNK_SIZE);
    await expectRejected(replayed, rsaIdentities, ['ENVELOPE_PAYLOAD_TAMPERED'], 'chunk 0 written again as chunk 1');

    const dropped = Buffer.concat([envelope.subarray(0, full[1]), envelope.subarray(full[2])]);
    await expectRejected(dropped, rsaIdentities, ['ENVELOPE_PAYLOAD_TAMPERED'], 'chunk 1 dropped');
    await assertNoLeftovers();
  });

  test('payload moved under another header', async () => {
    // Same key pair and plaintext, but a new file key: the old payload must not open under it.
    const other = await sealToBuffer([{ kind: 'rsa', publicKey: rsa.publicKey }], plaintext);
    const spliced = Buffer.concat([other.envelope.subarray(0, other.headerLength), rsaOnly.envelope.subarray(rsaOnly.headerLength)]);
    await expectRejected(spliced, rsaIdentities, ['ENVELOPE_PAYLOAD_TAMPERED'], 'payload of one envelope under the header of another');
    await assertNoLeftovers();
  });
});
