/**
 * Byte layout of the envelope header: constants, encoder and strict parser.
 *
 * docs/FORMAT.md is the specification; this file follows it field by field.
 * Nothing here touches keys: the parser only checks structure and limits.
 */
import { SftError } from '../errors';

export const MAGIC = Buffer.from('SFTE', 'ascii');
export const VERSION = 1;

/** Plaintext bytes per payload chunk. */
export const CHUNK_SIZE = 64 * 1024;
export const TAG_SIZE = 16;
/** Bytes of one sealed full chunk. */
export const SEALED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE;

export const FILE_KEY_SIZE = 32;
export const PAYLOAD_SALT_SIZE = 16;
export const MAC_SIZE = 32;
/** A file key sealed with AES-256-GCM: ciphertext and tag. */
export const WRAPPED_KEY_SIZE = FILE_KEY_SIZE + TAG_SIZE;
export const FINGERPRINT_SIZE = 32;

export const MIN_HEADER_BYTES = 100;
export const MAX_HEADER_BYTES = 64 * 1024;
export const MAX_STANZAS = 16;
export const MAX_STANZA_BODY_BYTES = 1024;
export const MIN_SALT_BYTES = 16;
export const MAX_SALT_BYTES = 64;
export const MIN_READ_ITERATIONS = 100_000;
export const MAX_READ_ITERATIONS = 10_000_000;
export const MIN_RSA_CIPHERTEXT_BYTES = 256;
export const MAX_RSA_CIPHERTEXT_BYTES = 512;
export const MAX_METADATA_JSON_BYTES = 4096;
export const MIN_SEALED_METADATA_BYTES = 1 + TAG_SIZE;
export const MAX_SEALED_METADATA_BYTES = MAX_METADATA_JSON_BYTES + TAG_SIZE;

/** Offset of the header-length field, and the bytes needed to read it. */
export const HEADER_LENGTH_OFFSET = 5;
export const HEADER_PREFIX_BYTES = 9;

export const StanzaType = {
  /** The file key sealed under the passphrase's key with a zero nonce; read, no longer written. */
  passphrase: 1,
  rsa: 2,
  /** RSA over a type 1 wrapped key; read, no longer written. */
  passphraseRsa: 3,
  /** As type 1 with a random nonce, so one passphrase key can seal the file keys of many envelopes. */
  sharedPassphrase: 4,
  /** RSA over a type 4 wrapped key. */
  sharedPassphraseRsa: 5,
} as const;

/** Nonce bytes of a wrapped file key; stored in types 4 and 5, all zero in types 1 and 3. */
export const WRAP_NONCE_SIZE = 12;
const ZERO_WRAP_NONCE = Buffer.alloc(WRAP_NONCE_SIZE);

/** Types 1 and 4. */
export interface PassphraseStanza {
  type: typeof StanzaType.passphrase | typeof StanzaType.sharedPassphrase;
  salt: Buffer;
  iterations: number;
  nonce: Buffer;
  wrappedKey: Buffer;
}

export interface RsaStanza {
  type: typeof StanzaType.rsa;
  fingerprint: Buffer;
  ciphertext: Buffer;
}

/** Types 3 and 5. */
export interface PassphraseRsaStanza {
  type: typeof StanzaType.passphraseRsa | typeof StanzaType.sharedPassphraseRsa;
  fingerprint: Buffer;
  salt: Buffer;
  iterations: number;
  nonce: Buffer;
  ciphertext: Buffer;
}

export type Stanza = PassphraseStanza | RsaStanza | PassphraseRsaStanza;

/** A parsed header: every field, plus the bytes the MAC covers. */
export interface Header {
  version: number;
  payloadSalt: Buffer;
  stanzas: Stanza[];
  sealedMetadata: Buffer;
  mac: Buffer;
  /** Every header byte before the MAC. */
  authenticatedBytes: Buffer;
  /** Total header length in bytes, MAC included. */
  length: number;
}

function malformed(what: string): SftError {
  return new SftError('ENVELOPE_MALFORMED', `Invalid envelope header: ${what}. The file is not an sft envelope or is damaged.`);
}

function limit(what: string): SftError {
  return new SftError('ENVELOPE_LIMIT_EXCEEDED', `Invalid envelope header: ${what}. The file is damaged or was crafted to exhaust the reader.`);
}

/**
 * Reads the header length from the first 9 bytes of an envelope, after checking the magic,
 * version and the length's bounds. Throws SftError for anything else.
 */
export function readHeaderLength(prefix: Buffer): number {
  if (prefix.length < HEADER_PREFIX_BYTES) {
    throw new SftError('ENVELOPE_TRUNCATED', `Envelope is ${prefix.length} bytes long, shorter than any header. The file is truncated or empty.`);
  }
  if (!prefix.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw malformed('the magic bytes are not "SFTE"');
  }
  const version = prefix[MAGIC.length];
  if (version !== VERSION) {
    throw new SftError(
      'ENVELOPE_UNSUPPORTED_VERSION',
      `Unsupported envelope version ${version}; this program reads version ${VERSION}. Update sft to a version that knows it.`,
    );
  }
  const length = prefix.readUInt32BE(HEADER_LENGTH_OFFSET);
  if (length < MIN_HEADER_BYTES || length > MAX_HEADER_BYTES) {
    throw limit(`header length ${length} is outside ${MIN_HEADER_BYTES}..${MAX_HEADER_BYTES} bytes`);
  }
  return length;
}

/** A bounds-checked reader over one header buffer. */
class FieldReader {
  private offset = 0;

  constructor(private readonly bytes: Buffer) {}

  get position(): number {
    return this.offset;
  }

  take(size: number, field: string): Buffer {
    if (this.offset + size > this.bytes.length) {
      throw malformed(`${field} runs past the end of the header`);
    }
    const slice = this.bytes.subarray(this.offset, this.offset + size);
    this.offset += size;
    return slice;
  }

  u8(field: string): number {
    return this.take(1, field)[0];
  }

  u16(field: string): number {
    return this.take(2, field).readUInt16BE(0);
  }

  u32(field: string): number {
    return this.take(4, field).readUInt32BE(0);
  }
}

function readSalt(reader: FieldReader): Buffer {
  const size = reader.u8('salt length');
  if (size < MIN_SALT_BYTES || size > MAX_SALT_BYTES) {
    throw limit(`salt length ${size} is outside ${MIN_SALT_BYTES}..${MAX_SALT_BYTES}`);
  }
  return Buffer.from(reader.take(size, 'salt'));
}

function readIterations(reader: FieldReader): number {
  const iterations = reader.u32('iteration count');
  if (iterations < MIN_READ_ITERATIONS || iterations > MAX_READ_ITERATIONS) {
    throw limit(`PBKDF2 iteration count ${iterations} is outside ${MIN_READ_ITERATIONS}..${MAX_READ_ITERATIONS}`);
  }
  return iterations;
}

function readWrapNonce(reader: FieldReader, type: number): Buffer {
  if (type === StanzaType.passphrase || type === StanzaType.passphraseRsa) {
    return ZERO_WRAP_NONCE;
  }
  return Buffer.from(reader.take(WRAP_NONCE_SIZE, 'wrap nonce'));
}

/** Returns the nonce bytes as stored: none for types 1 and 3. */
function storedNonce(stanza: PassphraseStanza | PassphraseRsaStanza): Buffer {
  return stanza.type === StanzaType.passphrase || stanza.type === StanzaType.passphraseRsa ? Buffer.alloc(0) : stanza.nonce;
}

function readRsaCiphertext(reader: FieldReader): Buffer {
  const size = reader.u16('RSA ciphertext length');
  if (size < MIN_RSA_CIPHERTEXT_BYTES || size > MAX_RSA_CIPHERTEXT_BYTES) {
    throw limit(`RSA ciphertext length ${size} is outside ${MIN_RSA_CIPHERTEXT_BYTES}..${MAX_RSA_CIPHERTEXT_BYTES}`);
  }
  return Buffer.from(reader.take(size, 'RSA ciphertext'));
}

function parseStanzaBody(type: number, body: Buffer): Stanza {
  const reader = new FieldReader(body);
  let stanza: Stanza;
  switch (type) {
    case StanzaType.passphrase:
    case StanzaType.sharedPassphrase: {
      const salt = readSalt(reader);
      const iterations = readIterations(reader);
      const nonce = readWrapNonce(reader, type);
      const wrappedKey = Buffer.from(reader.take(WRAPPED_KEY_SIZE, 'wrapped file key'));
      stanza = { type, salt, iterations, nonce, wrappedKey };
      break;
    }
    case StanzaType.rsa: {
      const fingerprint = Buffer.from(reader.take(FINGERPRINT_SIZE, 'recipient fingerprint'));
      const ciphertext = readRsaCiphertext(reader);
      stanza = { type, fingerprint, ciphertext };
      break;
    }
    case StanzaType.passphraseRsa:
    case StanzaType.sharedPassphraseRsa: {
      const fingerprint = Buffer.from(reader.take(FINGERPRINT_SIZE, 'recipient fingerprint'));
      const salt = readSalt(reader);
      const iterations = readIterations(reader);
      const nonce = readWrapNonce(reader, type);
      const ciphertext = readRsaCiphertext(reader);
      stanza = { type, fingerprint, salt, iterations, nonce, ciphertext };
      break;
    }
    default:
      throw malformed(`unknown stanza type ${type}`);
  }
  if (reader.position !== body.length) {
    throw malformed(`stanza of type ${type} has ${body.length - reader.position} unexpected trailing bytes`);
  }
  return stanza;
}

/** Parses a whole header, whose length readHeaderLength() already returned. */
export function parseHeader(bytes: Buffer): Header {
  const length = readHeaderLength(bytes);
  if (bytes.length !== length) {
    throw malformed(`expected ${length} header bytes, got ${bytes.length}`);
  }
  const reader = new FieldReader(bytes);
  reader.take(HEADER_PREFIX_BYTES, 'prefix');
  const payloadSalt = Buffer.from(reader.take(PAYLOAD_SALT_SIZE, 'payload salt'));

  const count = reader.u8('stanza count');
  if (count < 1 || count > MAX_STANZAS) {
    throw limit(`stanza count ${count} is outside 1..${MAX_STANZAS}`);
  }
  const stanzas: Stanza[] = [];
  for (let i = 0; i < count; i++) {
    const type = reader.u8('stanza type');
    const bodyLength = reader.u16('stanza body length');
    if (bodyLength > MAX_STANZA_BODY_BYTES) {
      throw limit(`stanza body length ${bodyLength} is above ${MAX_STANZA_BODY_BYTES}`);
    }
    stanzas.push(parseStanzaBody(type, reader.take(bodyLength, 'stanza body')));
  }

  const metadataLength = reader.u16('metadata length');
  if (metadataLength < MIN_SEALED_METADATA_BYTES || metadataLength > MAX_SEALED_METADATA_BYTES) {
    throw limit(`metadata length ${metadataLength} is outside ${MIN_SEALED_METADATA_BYTES}..${MAX_SEALED_METADATA_BYTES}`);
  }
  const sealedMetadata = Buffer.from(reader.take(metadataLength, 'metadata'));

  const macOffset = reader.position;
  const mac = Buffer.from(reader.take(MAC_SIZE, 'MAC'));
  if (reader.position !== length) {
    throw malformed(`fields end at byte ${reader.position}, but the header length is ${length}`);
  }
  return {
    version: VERSION,
    payloadSalt,
    stanzas,
    sealedMetadata,
    mac,
    authenticatedBytes: Buffer.from(bytes.subarray(0, macOffset)),
    length,
  };
}

function encodeStanzaBody(stanza: Stanza): Buffer {
  const iterations = Buffer.alloc(4);
  switch (stanza.type) {
    case StanzaType.passphrase:
    case StanzaType.sharedPassphrase:
      iterations.writeUInt32BE(stanza.iterations);
      return Buffer.concat([Buffer.from([stanza.salt.length]), stanza.salt, iterations, storedNonce(stanza), stanza.wrappedKey]);
    case StanzaType.rsa:
      return Buffer.concat([stanza.fingerprint, u16(stanza.ciphertext.length), stanza.ciphertext]);
    case StanzaType.passphraseRsa:
    case StanzaType.sharedPassphraseRsa:
      iterations.writeUInt32BE(stanza.iterations);
      return Buffer.concat([
        stanza.fingerprint,
        Buffer.from([stanza.salt.length]),
        stanza.salt,
        iterations,
        storedNonce(stanza),
        u16(stanza.ciphertext.length),
        stanza.ciphertext,
      ]);
  }
}

function u16(value: number): Buffer {
  const bytes = Buffer.alloc(2);
  bytes.writeUInt16BE(value);
  return bytes;
}

/**
 * Encodes every header field before the MAC. The caller computes the MAC over the
 * result and appends it; the length field already counts the MAC.
 */
export function encodeAuthenticatedHeader(payloadSalt: Buffer, stanzas: Stanza[], sealedMetadata: Buffer): Buffer {
  if (stanzas.length < 1 || stanzas.length > MAX_STANZAS) {
    throw new SftError('USAGE', `An envelope needs 1 to ${MAX_STANZAS} recipients, got ${stanzas.length}.`);
  }
  const parts: Buffer[] = [MAGIC, Buffer.from([VERSION]), Buffer.alloc(4), payloadSalt, Buffer.from([stanzas.length])];
  for (const stanza of stanzas) {
    const body = encodeStanzaBody(stanza);
    parts.push(Buffer.from([stanza.type]), u16(body.length), body);
  }
  parts.push(u16(sealedMetadata.length), sealedMetadata);
  const bytes = Buffer.concat(parts);
  const total = bytes.length + MAC_SIZE;
  if (total > MAX_HEADER_BYTES) {
    throw new SftError('USAGE', `The envelope header would be ${total} bytes, above the ${MAX_HEADER_BYTES}-byte limit. Use fewer recipients.`);
  }
  bytes.writeUInt32BE(total, HEADER_LENGTH_OFFSET);
  return bytes;
}

/** Returns the exact envelope size for a header of `headerLength` bytes and `plaintextSize` bytes of plaintext. */
export function envelopeSize(headerLength: number, plaintextSize: number): number {
  const chunks = Math.max(1, Math.ceil(plaintextSize / CHUNK_SIZE));
  return headerLength + plaintextSize + chunks * TAG_SIZE;
}
