/**
 * Stanzas: wrapping the file key for each recipient, and unwrapping it again.
 *
 * PBKDF2 runs on libuv's thread pool (async), so a 600,000-iteration derivation never
 * blocks the event loop of the extension host.
 */
import * as crypto from 'node:crypto';
import { promisify } from 'node:util';
import { SftError } from '../errors';
import {
  FILE_KEY_SIZE,
  MAX_READ_ITERATIONS,
  MIN_READ_ITERATIONS,
  PassphraseRsaStanza,
  PassphraseStanza,
  RsaStanza,
  Stanza,
  StanzaType,
  WRAPPED_KEY_SIZE,
  WRAP_NONCE_SIZE,
} from './format';
import { checkRsaKey, fingerprintBytes, formatFingerprint } from './keys';

export const DEFAULT_PBKDF2_ITERATIONS = 600_000;
export const SALT_SIZE = 16;
/** Longest passphrase accepted, in UTF-8 bytes; it bounds the KDF's input, not its cost. */
export const MAX_PASSPHRASE_BYTES = 4096;

const pbkdf2 = promisify(crypto.pbkdf2);

/**
 * A key derived from a passphrase by derivePassphraseKey(). One derivation can wrap the file
 * keys of many envelopes, since every wrap draws its own random nonce.
 */
export interface PassphraseKey {
  readonly salt: Buffer;
  readonly iterations: number;
  /** The key-encryption key: PBKDF2-HMAC-SHA-256 of the passphrase. */
  readonly kek: Buffer;
}

/**
 * A passphrase recipient takes the passphrase itself (derived once for this envelope) or a
 * PassphraseKey shared by several envelopes; `iterations` applies only to a passphrase.
 */
export type Recipient =
  | { kind: 'passphrase'; passphrase: string | PassphraseKey; iterations?: number }
  | { kind: 'rsa'; publicKey: crypto.KeyObject }
  | { kind: 'passphrase+rsa'; passphrase: string | PassphraseKey; publicKey: crypto.KeyObject; iterations?: number };

/** The secrets a reader holds: a passphrase, private keys, or both. */
export interface Identities {
  passphrase?: string;
  privateKeys?: crypto.KeyObject[];
}

/** Fixed values for known-answer tests. Production callers never pass it. */
export interface WrapSeam {
  salt?: Buffer;
  nonce?: Buffer;
}

function checkPassphrase(passphrase: string): void {
  if (passphrase.length === 0) {
    throw new SftError('USAGE', 'The passphrase is empty. Give a non-empty passphrase.');
  }
  if (Buffer.byteLength(passphrase, 'utf8') > MAX_PASSPHRASE_BYTES) {
    throw new SftError('USAGE', `The passphrase is longer than ${MAX_PASSPHRASE_BYTES} bytes. Use a shorter one.`);
  }
}

function checkIterations(iterations: number): void {
  if (!Number.isInteger(iterations) || iterations < MIN_READ_ITERATIONS || iterations > MAX_READ_ITERATIONS) {
    throw new SftError('USAGE', `PBKDF2 iteration count ${iterations} is outside ${MIN_READ_ITERATIONS}..${MAX_READ_ITERATIONS}. The default is ${DEFAULT_PBKDF2_ITERATIONS}.`);
  }
}

async function deriveKek(passphrase: string, salt: Buffer, iterations: number): Promise<Buffer> {
  return pbkdf2(Buffer.from(passphrase.normalize('NFC'), 'utf8'), salt, iterations, 32, 'sha256');
}

/**
 * Derives the key a passphrase stanza needs, with a fresh random salt unless `salt` is given
 * (known-answer tests). Throws SftError('USAGE') for an empty or overlong passphrase or an
 * iteration count outside the readable range.
 */
export async function derivePassphraseKey(passphrase: string, iterations = DEFAULT_PBKDF2_ITERATIONS, salt?: Buffer): Promise<PassphraseKey> {
  checkPassphrase(passphrase);
  checkIterations(iterations);
  const saltBytes = salt ?? crypto.randomBytes(SALT_SIZE);
  return { salt: saltBytes, iterations, kek: await deriveKek(passphrase, saltBytes, iterations) };
}


function sealKey(kek: Buffer, nonce: Buffer, fileKey: Buffer): Buffer {
  const cipher = crypto.createCipheriv('aes-256-gcm', kek, nonce);
  return Buffer.concat([cipher.update(fileKey), cipher.final(), cipher.getAuthTag()]);
}

/** Opens a wrapped file key, or returns undefined when the tag does not match (a wrong KEK). */
function openKey(kek: Buffer, nonce: Buffer, wrapped: Buffer): Buffer | undefined {
  if (wrapped.length !== WRAPPED_KEY_SIZE) return undefined;
  const decipher = crypto.createDecipheriv('aes-256-gcm', kek, nonce);
  decipher.setAuthTag(wrapped.subarray(FILE_KEY_SIZE));
  try {
    return Buffer.concat([decipher.update(wrapped.subarray(0, FILE_KEY_SIZE)), decipher.final()]);
  } catch {
    return undefined;
  }
}

function rsaEncrypt(publicKey: crypto.KeyObject, data: Buffer): Buffer {
  return crypto.publicEncrypt({ key: publicKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, data);
}

function rsaDecrypt(privateKey: crypto.KeyObject, data: Buffer): Buffer | undefined {
  try {
    return crypto.privateDecrypt({ key: privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, data);
  } catch {
    return undefined;
  }
}

/** Wraps `fileKey` for one recipient. Passphrase recipients get a type 4 or 5 stanza. */
export async function wrapFileKey(recipient: Recipient, fileKey: Buffer, seam: WrapSeam = {}): Promise<Stanza> {
  if (recipient.kind === 'rsa') {
    checkRsaKey(recipient.publicKey, 'The recipient key');
    const stanza: RsaStanza = {
      type: StanzaType.rsa,
      fingerprint: fingerprintBytes(recipient.publicKey),
      ciphertext: rsaEncrypt(recipient.publicKey, fileKey),
    };
    return stanza;
  }

  if (recipient.kind === 'passphrase+rsa') {
    checkRsaKey(recipient.publicKey, 'The recipient key');
  }
  const key = typeof recipient.passphrase === 'string'
    ? await derivePassphraseKey(recipient.passphrase, recipient.iterations, seam.salt)
    : recipient.passphrase;
  const nonce = seam.nonce ?? crypto.randomBytes(WRAP_NONCE_SIZE);
  const wrappedKey = sealKey(key.kek, nonce, fileKey);
  if (recipient.kind === 'passphrase') {
    const stanza: PassphraseStanza = { type: StanzaType.sharedPassphrase, salt: key.salt, iterations: key.iterations, nonce, wrappedKey };
    return stanza;
  }
  const stanza: PassphraseRsaStanza = {
    type: StanzaType.sharedPassphraseRsa,
    fingerprint: fingerprintBytes(recipient.publicKey),
    salt: key.salt,
    iterations: key.iterations,
    nonce,
    ciphertext: rsaEncrypt(recipient.publicKey, wrappedKey),
  };
  return stanza;
}

/** Reasons a stanza failed to open, from the most to the least specific. */
type Failure = 'wrong-passphrase' | 'wrong-key' | 'missing-passphrase' | 'no-match';

/**
 * Finds the file key in the first stanza the identities open.
 * Throws ENVELOPE_WRONG_PASSPHRASE, ENVELOPE_WRONG_KEY or ENVELOPE_NO_MATCHING_STANZA.
 */
export async function unwrapFileKey(stanzas: Stanza[], identities: Identities): Promise<{ fileKey: Buffer; stanza: Stanza }> {
  const privateKeys = (identities.privateKeys ?? []).map((key) => ({
    key,
    fingerprint: fingerprintBytes(crypto.createPublicKey(key)),
  }));
  if (identities.passphrase !== undefined) {
    checkPassphrase(identities.passphrase);
  }
  const failures = new Set<Failure>();
  const openPassphraseLayer = async (stanza: PassphraseStanza | PassphraseRsaStanza, passphrase: string, wrapped: Buffer): Promise<Buffer | undefined> =>
    openKey(await deriveKek(passphrase, stanza.salt, stanza.iterations), stanza.nonce, wrapped);

  for (const stanza of stanzas) {
    if (!('fingerprint' in stanza)) {
      if (identities.passphrase === undefined) {
        failures.add('missing-passphrase');
        continue;
      }
      const fileKey = await openPassphraseLayer(stanza, identities.passphrase, stanza.wrappedKey);
      if (fileKey) return { fileKey, stanza };
      failures.add('wrong-passphrase');
      continue;
    }

    const candidates = privateKeys.filter((entry) => entry.fingerprint.equals(stanza.fingerprint));
    if (candidates.length === 0) {
      failures.add(privateKeys.length > 0 ? 'wrong-key' : 'no-match');
      continue;
    }
    for (const { key } of candidates) {
      const opened = rsaDecrypt(key, stanza.ciphertext);
      if (!opened) {
        failures.add('wrong-key');
        continue;
      }
      if (stanza.type === StanzaType.rsa) {
        if (opened.length === FILE_KEY_SIZE) return { fileKey: opened, stanza };
        failures.add('wrong-key');
        continue;
      }
      if (identities.passphrase === undefined) {
        failures.add('missing-passphrase');
        continue;
      }
      const fileKey = await openPassphraseLayer(stanza, identities.passphrase, opened);
      if (fileKey) return { fileKey, stanza };
      failures.add('wrong-passphrase');
    }
  }

  if (failures.has('wrong-passphrase')) {
    throw new SftError('ENVELOPE_WRONG_PASSPHRASE', 'Wrong passphrase: it does not unwrap the file key. Check the passphrase and try again.');
  }
  if (failures.has('missing-passphrase')) {
    throw new SftError('ENVELOPE_NO_MATCHING_STANZA', 'This envelope needs a passphrase. Give it with --passphrase-file or SFT_PASSPHRASE.');
  }
  if (failures.has('wrong-key')) {
    const wanted = stanzas
      .filter((s): s is RsaStanza | PassphraseRsaStanza => 'fingerprint' in s)
      .map((s) => formatFingerprint(s.fingerprint));
    throw new SftError('ENVELOPE_WRONG_KEY', `Wrong private key: the envelope is for ${wanted.join(', ')}. Give the matching --identity.`);
  }
  throw new SftError('ENVELOPE_NO_MATCHING_STANZA', 'No stanza in this envelope can be opened with what was given. Give --passphrase-file or --identity as the sender intended.');
}
