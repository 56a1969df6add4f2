/**
 * Builds the known-answer and negative envelope vectors under test/vectors/.
 *
 * Run `node out/test/crypto/vector-builder.js` after `npm run compile-tests` to rewrite
 * them. The passphrase vectors are deterministic through the envelope seam, so the tests
 * rebuild them and compare byte for byte; the RSA vector is random (OAEP) and is only
 * checked in the decrypt direction.
 *
 * The two legacy vectors contain stanza types 1 and 3, which the writer no longer makes. An
 * earlier writer made them, and they stay unchanged so that the tests check readers open them.
 */
import * as crypto from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { EnvelopeWriter, SEALED_CHUNK_SIZE, parseHeader } from '../../src/crypto';
import type { Recipient } from '../../src/crypto';
import type { SftErrorCode } from '../../src/errors';

export const VECTOR_DIR = path.join(__dirname, '..', '..', '..', 'test', 'vectors');
export const VECTOR_PASSPHRASE = 'correct horse battery staple';
export const VECTOR_ITERATIONS = 100_000;

export interface VectorEntry {
  file: string;
  description: string;
  passphrase?: string;
  /** File name of an unencrypted test-only private key under test/vectors/. */
  identity?: string;
  plaintextSha256?: string;
  metadata?: { name: string; size: number; mtimeMs: number };
  expectedError?: SftErrorCode;
  deterministic: boolean;
}

export function patternBytes(size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 7) % 251;
  return bytes;
}

/** Envelopes with stanza types 1 and 3, kept from the writer of before types 4 and 5. */
const LEGACY_VECTORS: VectorEntry[] = [
  {
    file: 'legacy-type1-passphrase.sft',
    description: 'type 1 passphrase stanza (KEK seals the file key directly), one short chunk',
    passphrase: VECTOR_PASSPHRASE,
    plaintextSha256: '1fa849333dd24989c0979e125c9d0627acf25e6507273c232afacb1ea5f71c97',
    metadata: { name: 'hello.txt', size: 16, mtimeMs: 1_700_000_000_000 },
    deterministic: false,
  },
  {
    file: 'legacy-type3-combined.sft',
    description: 'type 3 passphrase+RSA stanza and RSA stanza to test-only-rsa-2048.pem, two chunks',
    passphrase: VECTOR_PASSPHRASE,
    identity: 'test-only-rsa-2048.pem',
    plaintextSha256: '84bc50d4d2f6f3a614f6720911ca67c9e4c8771648a9d7934a556450e4e8192b',
    metadata: { name: 'both.bin', size: 70_000, mtimeMs: 1_700_000_000_000 },
    deterministic: false,
  },
];

function fill(byte: number, size: number): Buffer {
  return Buffer.alloc(size, byte);
}

async function seal(plaintext: Buffer, name: string, recipients: Recipient[], seed: number): Promise<Buffer> {
  const writer = await EnvelopeWriter.create(recipients, { name, size: plaintext.length, mtimeMs: 1_700_000_000_000 }, {
    fileKey: fill(seed, 32),
    payloadSalt: fill(seed + 1, 16),
    salts: [fill(seed + 2, 16)],
    nonces: [fill(seed + 3, 12)],
  });
  const payload = writer.createPayloadStream();
  const parts: Buffer[] = [writer.header];
  payload.on('data', (chunk: Buffer) => parts.push(chunk));
  const done = new Promise((resolve, reject) => {
    payload.on('end', resolve);
    payload.on('error', reject);
  });
  payload.end(plaintext);
  await done;
  return Buffer.concat(parts);
}

function sha256(bytes: Buffer): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

/** Returns the deterministic vectors: file name, bytes and their entry. */
export async function buildDeterministicVectors(): Promise<Array<{ entry: VectorEntry; bytes: Buffer }>> {
  const passphrase: Recipient = { kind: 'passphrase', passphrase: VECTOR_PASSPHRASE, iterations: VECTOR_ITERATIONS };
  const small = Buffer.from('hello, envelope\n', 'utf8');
  const multi = patternBytes(150_000);
  const smallEnvelope = await seal(small, 'hello.txt', [passphrase], 0x10);
  const multiEnvelope = await seal(multi, 'pattern.bin', [passphrase], 0x20);
  const headerLength = parseHeader(multiEnvelope.subarray(0, multiEnvelope.readUInt32BE(5))).length;
  const out: Array<{ entry: VectorEntry; bytes: Buffer }> = [];
  const positive = (file: string, description: string, bytes: Buffer, plaintext: Buffer, name: string): void => {
    out.push({
      entry: {
        file, description, passphrase: VECTOR_PASSPHRASE, plaintextSha256: sha256(plaintext),
        metadata: { name, size: plaintext.length, mtimeMs: 1_700_000_000_000 }, deterministic: true,
      },
      bytes,
    });
  };
  const negative = (file: string, description: string, bytes: Buffer, expectedError: SftErrorCode): void => {
    out.push({ entry: { file, description, passphrase: VECTOR_PASSPHRASE, expectedError, deterministic: true }, bytes });
  };

  positive('passphrase-small.sft', 'passphrase stanza, one short chunk', smallEnvelope, small, 'hello.txt');
  positive('passphrase-multichunk.sft', 'passphrase stanza, three chunks (150,000 bytes)', multiEnvelope, multi, 'pattern.bin');

  const badMac = Buffer.from(multiEnvelope);
  badMac[headerLength - 1] ^= 0x01;
  negative('bad-header-mac.sft', 'last MAC byte flipped', badMac, 'ENVELOPE_HEADER_TAMPERED');

  const tampered = Buffer.from(multiEnvelope);
  tampered[headerLength + SEALED_CHUNK_SIZE + 100] ^= 0x80;
  negative('tampered-chunk.sft', 'one payload byte of chunk 1 flipped', tampered, 'ENVELOPE_PAYLOAD_TAMPERED');

  const truncated = multiEnvelope.subarray(0, headerLength + 2 * SEALED_CHUNK_SIZE);
  negative('truncated-at-boundary.sft', 'last chunk dropped, cut at a chunk boundary', truncated, 'ENVELOPE_TRUNCATED');

  const firstChunk = multiEnvelope.subarray(headerLength, headerLength + SEALED_CHUNK_SIZE);
  const appended = Buffer.concat([multiEnvelope, firstChunk]);
  negative('appended-chunk.sft', 'a copy of chunk 0 appended after the last chunk', appended, 'ENVELOPE_PAYLOAD_TAMPERED');

  // Both envelopes use one passphrase and equally long stanzas, so the copy unwraps and only the MAC catches it.
  const smallHeaderLength = smallEnvelope.readUInt32BE(5);
  const smallStanzas = parseHeader(smallEnvelope.subarray(0, smallHeaderLength)).stanzas;
  const multiStanzas = parseHeader(multiEnvelope.subarray(0, headerLength)).stanzas;
  const stanzaStart = 26;
  const first = smallStanzas[0];
  if (first.type !== 4) throw new Error('vector layout changed');
  const stanzaLength = 3 + 1 + first.salt.length + 4 + 12 + 48;
  if (multiStanzas.length !== 1 || smallStanzas.length !== 1) throw new Error('vector layout changed');
  const swapped = Buffer.from(multiEnvelope);
  smallEnvelope.copy(swapped, stanzaStart, stanzaStart, stanzaStart + stanzaLength);
  negative('swapped-stanza.sft', 'stanza copied from passphrase-small.sft', swapped, 'ENVELOPE_HEADER_TAMPERED');

  const version = Buffer.from(multiEnvelope);
  version[4] = 2;
  negative('unknown-version.sft', 'version byte set to 2', version, 'ENVELOPE_UNSUPPORTED_VERSION');
  return out;
}

async function main(): Promise<void> {
  const entries: VectorEntry[] = [];
  for (const { entry, bytes } of await buildDeterministicVectors()) {
    await fs.writeFile(path.join(VECTOR_DIR, entry.file), bytes);
    entries.push(entry);
  }

  // The RSA vector needs a committed key pair; it is made once and kept.
  const keyFile = path.join(VECTOR_DIR, 'test-only-rsa-2048.pem');
  let pem: string;
  try {
    pem = await fs.readFile(keyFile, 'utf8');
  } catch {
    const pair = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    pem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await fs.writeFile(keyFile, pem);
  }
  const publicKey = crypto.createPublicKey(pem);
  const plaintext = patternBytes(70_000);
  const rsaEnvelope = await seal(plaintext, 'both.bin', [
    { kind: 'passphrase+rsa', passphrase: VECTOR_PASSPHRASE, publicKey, iterations: VECTOR_ITERATIONS },
    { kind: 'rsa', publicKey },
  ], 0x30);
  await fs.writeFile(path.join(VECTOR_DIR, 'rsa-and-combined.sft'), rsaEnvelope);
  entries.push({
    file: 'rsa-and-combined.sft',
    description: 'passphrase+RSA stanza and RSA stanza to test-only-rsa-2048.pem, two chunks',
    identity: 'test-only-rsa-2048.pem',
    plaintextSha256: sha256(plaintext),
    metadata: { name: 'both.bin', size: plaintext.length, mtimeMs: 1_700_000_000_000 },
    deterministic: false,
  });
  entries.push(...LEGACY_VECTORS);
  await fs.writeFile(path.join(VECTOR_DIR, 'vectors.json'), JSON.stringify(entries, null, 2) + '\n');
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
