/**
 * RSA key pairs: generation, PEM loading and OpenSSH-style fingerprints.
 *
 * Private keys are written as encrypted PKCS#8 PEM (PBES2: PBKDF2-HMAC-SHA-256 at 600,000
 * iterations and AES-256-CBC), which `openssl pkey` reads with the passphrase; public keys
 * as SPKI PEM.
 */
import * as crypto from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { SftError } from '../errors';
import { encryptPrivateKeyPem } from './pkcs8';

export const DEFAULT_RSA_BITS = 3072;
export const MIN_RSA_BITS = 2048;
export const MAX_RSA_BITS = 4096;
export const ALLOWED_RSA_BITS = [2048, 3072, 4096] as const;
/** Largest PEM file read as a key; a 4096-bit encrypted private key is about 3.4 KiB. */
export const MAX_KEY_FILE_BYTES = 64 * 1024;

const generateKeyPairAsync = promisify(crypto.generateKeyPair);

export interface KeyPairPem {
  privateKeyPem: string;
  publicKeyPem: string;
  fingerprint: string;
}

/**
 * Generates an RSA key pair on libuv's thread pool, so the event loop stays free.
 * The private key PEM is encrypted with `passphrase`. Throws SftError('USAGE') for an
 * unsupported size or an empty passphrase.
 */
export async function generateKeyPair(passphrase: string, bits: number = DEFAULT_RSA_BITS): Promise<KeyPairPem> {
  if (!(ALLOWED_RSA_BITS as readonly number[]).includes(bits)) {
    throw new SftError('USAGE', `Unsupported RSA key size ${bits}. Use one of ${ALLOWED_RSA_BITS.join(', ')} bits.`);
  }
  if (passphrase.length === 0) {
    throw new SftError('KEY_PASSPHRASE_MISSING', 'The private key passphrase is empty. Give a non-empty passphrase to protect the private key.');
  }
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', { modulusLength: bits, publicExponent: 0x10001 });
  return {
    privateKeyPem: await encryptPrivateKeyPem(privateKey, passphrase),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    fingerprint: fingerprint(publicKey),
  };
}

/** Returns the SHA-256 of the key's SPKI DER encoding: the recipient id used in stanzas. */
export function fingerprintBytes(publicKey: crypto.KeyObject): Buffer {
  let digest = fingerprintCache.get(publicKey);
  if (digest === undefined) {
    const der = publicKey.export({ type: 'spki', format: 'der' });
    digest = crypto.createHash('sha256').update(der).digest();
    fingerprintCache.set(publicKey, digest);
  }
  return Buffer.from(digest);
}

/** Fingerprints already computed, since senders and receivers ask once per file for the same key. */
const fingerprintCache = new WeakMap<crypto.KeyObject, Buffer>();

/** Formats a fingerprint as OpenSSH does: `SHA256:` and unpadded base64. */
export function formatFingerprint(digest: Buffer): string {
  return `SHA256:${digest.toString('base64').replace(/=+$/, '')}`;
}

/** Returns the printable fingerprint of a public key, for example `SHA256:q3b…`. */
export function fingerprint(publicKey: crypto.KeyObject): string {
  return formatFingerprint(fingerprintBytes(publicKey));
}

/** Checks that a key is RSA and at least MIN_RSA_BITS long. */
export function checkRsaKey(key: crypto.KeyObject, source: string): void {
  if (key.asymmetricKeyType !== 'rsa') {
    throw new SftError('KEY_INVALID', `${source} is a ${key.asymmetricKeyType ?? 'non-asymmetric'} key, not RSA. Use an RSA key made by "sft keygen" or "openssl genpkey -algorithm RSA".`);
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) {
    throw new SftError('KEY_TOO_SMALL', `${source} is a ${bits}-bit RSA key; keys of ${MIN_RSA_BITS} to ${MAX_RSA_BITS} bits are accepted.`);
  }
}

async function readKeyFile(file: string): Promise<Buffer> {
  let stat;
  try {
    stat = await fs.stat(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new SftError('FILE_NOT_FOUND', `Key file ${file} not found. Check the path.`);
    }
    throw new SftError('IO_FAILED', `Cannot read key file ${file}: ${(error as Error).message}`);
  }
  if (!stat.isFile() || stat.size > MAX_KEY_FILE_BYTES) {
    throw new SftError('KEY_INVALID', `${file} is not a PEM key file (not a regular file, or larger than ${MAX_KEY_FILE_BYTES} bytes).`);
  }
  return fs.readFile(file);
}

/** Parses an RSA public key from SPKI or PKCS#1 PEM text. */
export function parsePublicKey(pem: string | Buffer, source = 'the public key'): crypto.KeyObject {
  let key: crypto.KeyObject;
  try {
    key = crypto.createPublicKey(pem);
  } catch {
    throw new SftError('KEY_INVALID', `${source} is not a valid PEM public key. Give the public.pem made by "sft keygen" or "openssl pkey -pubout".`);
  }
  checkRsaKey(key, source);
  return key;
}

/** Reads an RSA public key from a PEM file. A private key file is accepted too, and its public half used. */
export async function loadPublicKey(file: string): Promise<crypto.KeyObject> {
  return parsePublicKey(await readKeyFile(file), file);
}

/**
 * Parses an RSA private key from PEM text, encrypted (PKCS#8 or traditional) or not.
 * Throws KEY_PASSPHRASE_MISSING when the key is encrypted and no passphrase was given,
 * and KEY_PASSPHRASE_WRONG when the passphrase does not open it.
 */
export function parsePrivateKey(pem: string | Buffer, passphrase: string | undefined, source = 'the private key'): crypto.KeyObject {
  const text = pem.toString();
  const encrypted = text.includes('ENCRYPTED');
  if (encrypted && passphrase === undefined) {
    throw new SftError('KEY_PASSPHRASE_MISSING', `${source} is encrypted. Give its passphrase with --identity-passphrase-file or SFT_IDENTITY_PASSPHRASE.`);
  }
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey({ key: text, format: 'pem', passphrase: encrypted ? passphrase : undefined });
  } catch {
    if (encrypted) {
      throw new SftError('KEY_PASSPHRASE_WRONG', `Wrong passphrase for ${source}, or the key file is damaged.`);
    }
    throw new SftError('KEY_INVALID', `${source} is not a valid PEM private key. Give the private.pem made by "sft keygen" or "openssl genpkey".`);
  }
  checkRsaKey(key, source);
  return key;
}

/** Reads an RSA private key from a PEM file; see parsePrivateKey. */
export async function loadPrivateKey(file: string, passphrase?: string): Promise<crypto.KeyObject> {
  return parsePrivateKey(await readKeyFile(file), passphrase, file);
}

/**
 * Writes DIR/private.pem (mode 0600) and DIR/public.pem. Refuses to overwrite either, so
 * an existing identity is never lost; the folder is created when missing.
 */
export async function writeKeyPair(dir: string, pair: KeyPairPem): Promise<{ privatePath: string; publicPath: string }> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const privatePath = path.join(dir, 'private.pem');
  const publicPath = path.join(dir, 'public.pem');
  for (const file of [privatePath, publicPath]) {
    const exists = await fs.stat(file).then(() => true, () => false);
    if (exists) {
      throw new SftError('FILE_EXISTS', `${file} already exists. Choose another --out folder or move the old key away first.`);
    }
  }
  // 'wx' fails if the file appeared meanwhile, and the mode applies at creation, so the key is never readable by others.
  await fs.writeFile(privatePath, pair.privateKeyPem, { mode: 0o600, flag: 'wx' });
  await fs.writeFile(publicPath, pair.publicKeyPem, { mode: 0o644, flag: 'wx' });
  return { privatePath, publicPath };
}
