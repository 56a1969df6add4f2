/**
 * Envelopes: sealing a file for its recipients and opening it again, as streams.
 *
 * The writer is deterministic once created (same file key, same header), so a sender
 * can restart the payload from any chunk after a broken connection.
 */
import * as crypto from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { SftError } from '../errors';
import {
  CHUNK_SIZE,
  FILE_KEY_SIZE,
  HEADER_PREFIX_BYTES,
  Header,
  MAC_SIZE,
  MAX_METADATA_JSON_BYTES,
  PAYLOAD_SALT_SIZE,
  Stanza,
  encodeAuthenticatedHeader,
  envelopeSize,
  parseHeader,
  readHeaderLength,
} from './format';
import { createOpenStream, createSealStream, sealPayload } from './payload';
import { Identities, Recipient, unwrapFileKey, wrapFileKey } from './stanza';

/** Metadata of the original file, sealed inside the envelope. */
export interface FileMetadata {
  /** Base name of the file when it was encrypted. */
  name: string;
  /** Plaintext size in bytes, or null when unknown (standard input). */
  size: number | null;
  /** Modification time in milliseconds since 1970, or null. */
  mtimeMs: number | null;
}

export const MAX_NAME_LENGTH = 1024;

/** Fixed keys and salts for known-answer tests. Production callers never pass it. */
export interface EnvelopeSeam {
  fileKey?: Buffer;
  payloadSalt?: Buffer;
  /** One salt per passphrase stanza, in recipient order. */
  salts?: Buffer[];
  /** One wrap nonce per passphrase stanza, in recipient order. */
  nonces?: Buffer[];
}

interface DerivedKeys {
  header: Buffer;
  metadata: Buffer;
  payload: Buffer;
}

const ZERO_NONCE = Buffer.alloc(12);

function deriveKeys(fileKey: Buffer, payloadSalt: Buffer): DerivedKeys {
  const derive = (label: string): Buffer => Buffer.from(crypto.hkdfSync('sha256', fileKey, payloadSalt, `sft/v1 ${label}`, 32));
  return { header: derive('header'), metadata: derive('metadata'), payload: derive('payload') };
}

function checkMetadata(metadata: FileMetadata): void {
  if (typeof metadata.name !== 'string' || metadata.name.length === 0 || metadata.name.length > MAX_NAME_LENGTH) {
    throw new SftError('USAGE', `File name "${String(metadata.name).slice(0, 80)}" must be 1 to ${MAX_NAME_LENGTH} characters long.`);
  }
  if (metadata.size !== null && !(Number.isSafeInteger(metadata.size) && metadata.size >= 0)) {
    throw new SftError('USAGE', `File size ${metadata.size} is not a whole number of bytes.`);
  }
  if (metadata.mtimeMs !== null && !Number.isFinite(metadata.mtimeMs)) {
    throw new SftError('USAGE', `Modification time ${metadata.mtimeMs} is not a number.`);
  }
}

function sealMetadata(key: Buffer, metadata: FileMetadata): Buffer {
  const json = Buffer.from(JSON.stringify({ name: metadata.name, size: metadata.size, mtime: metadata.mtimeMs }), 'utf8');
  if (json.length > MAX_METADATA_JSON_BYTES) {
    throw new SftError('USAGE', `The file's metadata takes ${json.length} bytes, above the ${MAX_METADATA_JSON_BYTES}-byte limit. Shorten the file name.`);
  }
  const cipher = crypto.createCipheriv('aes-256-gcm', key, ZERO_NONCE);
  return Buffer.concat([cipher.update(json), cipher.final(), cipher.getAuthTag()]);
}

function openMetadata(key: Buffer, sealed: Buffer): FileMetadata {
  const decipher = crypto.createDecipheriv('aes-256-gcm', key, ZERO_NONCE);
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  let json: Buffer;
  try {
    json = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]);
  } catch {
    // The MAC over the whole header passed, so this is a writer bug or a forged header with a valid MAC.
    throw new SftError('ENVELOPE_HEADER_TAMPERED', 'The envelope metadata failed authentication. The envelope is damaged.');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(json.toString('utf8'));
  } catch {
    throw new SftError('ENVELOPE_MALFORMED', 'The envelope metadata is not valid JSON.');
  }
  const record = parsed as { name?: unknown; size?: unknown; mtime?: unknown };
  const valid =
    typeof parsed === 'object' && parsed !== null &&
    typeof record.name === 'string' && record.name.length > 0 && record.name.length <= MAX_NAME_LENGTH &&
    (record.size === null || (typeof record.size === 'number' && Number.isSafeInteger(record.size) && record.size >= 0)) &&
    (record.mtime === null || (typeof record.mtime === 'number' && Number.isFinite(record.mtime)));
  if (!valid) {
    throw new SftError('ENVELOPE_MALFORMED', 'The envelope metadata has missing or invalid fields (name, size, mtime).');
  }
  return { name: record.name as string, size: record.size as number | null, mtimeMs: record.mtime as number | null };
}

/** Seals one file for its recipients: the header once, the payload from any chunk. */
export class EnvelopeWriter {
  private constructor(
    /** The complete header, MAC included. */
    readonly header: Buffer,
    readonly metadata: FileMetadata,
    private readonly payloadKey: Buffer,
  ) {}

  /**
   * Picks a random file key, wraps it for each recipient (PBKDF2 runs off the event loop)
   * and seals the header. Throws SftError('USAGE') for invalid recipients or metadata.
   */
  static async create(recipients: Recipient[], metadata: FileMetadata, seam: EnvelopeSeam = {}): Promise<EnvelopeWriter> {
    if (recipients.length === 0) {
      throw new SftError('USAGE', 'No recipient given. Give a passphrase, a recipient public key, or both.');
    }
    checkMetadata(metadata);
    const fileKey = seam.fileKey ?? crypto.randomBytes(FILE_KEY_SIZE);
    const payloadSalt = seam.payloadSalt ?? crypto.randomBytes(PAYLOAD_SALT_SIZE);
    const keys = deriveKeys(fileKey, payloadSalt);

    const stanzas: Stanza[] = [];
    let saltIndex = 0;
    for (const recipient of recipients) {
      const salt = recipient.kind === 'rsa' ? undefined : seam.salts?.[saltIndex++];
      const nonce = recipient.kind === 'rsa' ? undefined : seam.nonces?.[saltIndex - 1];
      stanzas.push(await wrapFileKey(recipient, fileKey, { salt, nonce }));
    }

    const authenticated = encodeAuthenticatedHeader(payloadSalt, stanzas, sealMetadata(keys.metadata, metadata));
    const mac = crypto.createHmac('sha256', keys.header).update(authenticated).digest();
    return new EnvelopeWriter(Buffer.concat([authenticated, mac]), metadata, keys.payload);
  }

  /**
   * Returns a Transform from plaintext to sealed chunks. Its input must start at byte
   * `startChunk * CHUNK_SIZE` of the file; its output is the envelope from byte
   * `payloadOffset(startChunk)` on.
   */
  createPayloadStream(startChunk = 0): Transform {
    if (!Number.isSafeInteger(startChunk) || startChunk < 0) {
      throw new SftError('USAGE', `Invalid start chunk ${startChunk}.`);
    }
    return createSealStream(this.payloadKey, startChunk);
  }

  /**
   * Returns the whole envelope of a plaintext held in memory, for small files: the same
   * bytes as the header followed by createPayloadStream()'s output.
   */
  sealWhole(plaintext: Buffer): Buffer {
    return Buffer.concat([this.header, ...sealPayload(this.payloadKey, plaintext)]);
  }

  /** Returns the envelope offset at which sealed chunk `chunk` starts. */
  payloadOffset(chunk: number): number {
    return this.header.length + chunk * (CHUNK_SIZE + 16);
  }

  /** Returns the total envelope size for a plaintext of `plaintextSize` bytes. */
  sizeFor(plaintextSize: number): number {
    return envelopeSize(this.header.length, plaintextSize);
  }
}

/**
 * Reads exactly `size` bytes from a paused Readable, or fails with ENVELOPE_TRUNCATED.
 * Bytes read beyond `size` go back into the stream; object-mode streams of Buffers work too.
 */
function readExactly(stream: Readable, size: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let have = 0;
    const cleanup = (): void => {
      stream.off('readable', attempt);
      stream.off('end', onEnd);
      stream.off('error', onError);
    };
    function attempt(): void {
      let chunk: unknown;
      while (have < size && (chunk = stream.read()) !== null) {
        if (!(chunk instanceof Uint8Array)) {
          cleanup();
          reject(new SftError('USAGE', 'The envelope source gave something other than bytes. Give a stream of Buffers.'));
          return;
        }
        const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        const need = size - have;
        if (bytes.length > need) {
          stream.unshift(bytes.subarray(need));
        }
        parts.push(bytes.subarray(0, need));
        have += Math.min(need, bytes.length);
      }
      if (have === size) {
        cleanup();
        resolve(Buffer.concat(parts, size));
      }
    }
    function onEnd(): void {
      cleanup();
      reject(new SftError('ENVELOPE_TRUNCATED', 'The envelope ends inside its header. The file is truncated or is not an envelope.'));
    }
    function onError(error: Error): void {
      cleanup();
      reject(error);
    }
    stream.on('readable', attempt);
    stream.on('end', onEnd);
    stream.on('error', onError);
    attempt();
  });
}

/**
 * Calls `start` when the consumer first reads from `stream`. Piping earlier would let an
 * error at the end of a short input fire before the caller had attached any listener.
 */
function startOnFirstRead(stream: Transform, start: () => void): void {
  const read = stream._read.bind(stream);
  let started = false;
  stream._read = (size: number): void => {
    if (!started) {
      started = true;
      start();
    }
    read(size);
  };
}

/** Reads and structurally parses the header at the start of `source`, without any key. */
export async function readHeader(source: Readable): Promise<Header> {
  const prefix = await readExactly(source, HEADER_PREFIX_BYTES);
  const length = readHeaderLength(prefix);
  const rest = await readExactly(source, length - HEADER_PREFIX_BYTES);
  return parseHeader(Buffer.concat([prefix, rest]));
}

export interface OpenedEnvelope {
  header: Header;
  metadata: FileMetadata;
  /** The stanza that unwrapped the file key. */
  stanza: Stanza;
  /** Plaintext; errors with a typed SftError on tampering, truncation or trailing data. */
  payload: Readable;
}

/**
 * Reads the header from `source`, unwraps the file key with `identities` and checks the
 * header MAC, all before any payload byte is read. Wrong secrets fail here with
 * ENVELOPE_WRONG_PASSPHRASE or ENVELOPE_WRONG_KEY.
 */
export async function openEnvelope(source: Readable, identities: Identities): Promise<OpenedEnvelope> {
  let header: Header;
  let fileKey: Buffer;
  let stanza: Stanza;
  try {
    header = await readHeader(source);
    ({ fileKey, stanza } = await unwrapFileKey(header.stanzas, identities));
  } catch (error) {
    source.destroy();
    throw error;
  }

  const keys = deriveKeys(fileKey, header.payloadSalt);
  const expectedMac = crypto.createHmac('sha256', keys.header).update(header.authenticatedBytes).digest();
  if (expectedMac.length !== MAC_SIZE || !crypto.timingSafeEqual(expectedMac, header.mac)) {
    source.destroy();
    throw new SftError('ENVELOPE_HEADER_TAMPERED', 'The envelope header failed authentication: it was modified, or a stanza was copied from another envelope.');
  }
  const metadata = openMetadata(keys.metadata, header.sealedMetadata);

  const payload = createOpenStream(keys.payload, { expectedSize: metadata.size });
  source.on('error', (error) => payload.destroy(error));
  payload.on('close', () => source.destroy());
  startOnFirstRead(payload, () => source.pipe(payload));
  return { header, metadata, stanza, payload };
}
