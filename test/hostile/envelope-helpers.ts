/**
 * Envelopes in memory for the tamper and fuzz suites: sealing a plaintext into one buffer,
 * and decrypting a buffer through the same code path as `sft decrypt`.
 */
import { Readable } from 'node:stream';
import type { FileMetadata, Identities, Recipient } from '../../src/crypto';
import { EnvelopeWriter, decryptFile, openEnvelope } from '../../src/crypto';
import { SftErrorCode, isSftError } from '../../src/errors';

/** Error codes that a damaged or crafted envelope may produce; anything else is a failure of the reader. */
export const ENVELOPE_ERROR_CODES: readonly SftErrorCode[] = [
  'ENVELOPE_MALFORMED',
  'ENVELOPE_UNSUPPORTED_VERSION',
  'ENVELOPE_LIMIT_EXCEEDED',
  'ENVELOPE_NO_MATCHING_STANZA',
  'ENVELOPE_WRONG_PASSPHRASE',
  'ENVELOPE_WRONG_KEY',
  'ENVELOPE_HEADER_TAMPERED',
  'ENVELOPE_PAYLOAD_TAMPERED',
  'ENVELOPE_TRUNCATED',
  'ENVELOPE_TRAILING_DATA',
];

/** Seals `plaintext` for `recipients` and returns the whole envelope and its header length. */
export async function sealToBuffer(recipients: Recipient[], plaintext: Buffer, name = 'plain.bin'): Promise<{ envelope: Buffer; headerLength: number }> {
  const metadata: FileMetadata = { name, size: plaintext.length, mtimeMs: null };
  const writer = await EnvelopeWriter.create(recipients, metadata);
  const sealed: Buffer[] = [writer.header];
  const stream = writer.createPayloadStream();
  stream.on('data', (chunk: Buffer) => sealed.push(chunk));
  await new Promise<void>((resolve, reject) => {
    stream.once('end', resolve);
    stream.once('error', reject);
    stream.end(plaintext);
  });
  return { envelope: Buffer.concat(sealed), headerLength: writer.header.length };
}

/**
 * Returns a byte stream over `bytes`, cut into pieces at `cuts` (sorted offsets). Readable.from
 * defaults to object mode, where read(size) ignores the size, so it is turned off here.
 */
export function byteSource(bytes: Buffer, cuts: number[] = []): Readable {
  const pieces: Buffer[] = [];
  let start = 0;
  for (const cut of cuts) {
    if (cut > start && cut < bytes.length) {
      pieces.push(bytes.subarray(start, cut));
      start = cut;
    }
  }
  pieces.push(bytes.subarray(start));
  return Readable.from(pieces, { objectMode: false });
}

/** Decrypts `bytes` to `target` as `sft decrypt - -o target` does, and returns the outcome. */
export async function decryptBuffer(bytes: Buffer, target: string, identities: Identities, cuts: number[] = []): Promise<{ ok: true } | { ok: false; error: unknown }> {
  try {
    await decryptFile('-', target, identities, { stdin: byteSource(bytes, cuts) });
    return { ok: true };
  } catch (error) {
    return { ok: false, error };
  }
}

/** Opens `bytes` in memory and reads the whole payload; resolves with the plaintext or rejects. */
export async function openBuffer(bytes: Buffer, identities: Identities, cuts: number[] = []): Promise<Buffer> {
  const opened = await openEnvelope(byteSource(bytes, cuts), identities);
  const parts: Buffer[] = [];
  for await (const part of opened.payload) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/** Returns the error's code when it is an SftError, else a description for an assertion message. */
export function describeError(error: unknown): string {
  if (isSftError(error)) return error.code;
  if (error instanceof Error) return `untyped ${error.name}: ${error.message}`;
  return `untyped value ${String(error)}`;
}
