/**
 * Encrypted PKCS#8 private keys (RFC 5208, PBES2 from RFC 8018) with a strong KDF.
 *
 * Node.js 20 can export an encrypted PKCS#8 key, but then OpenSSL 3.0 uses 2,048 PBKDF2
 * iterations and an 8-byte salt, and Node offers no way to raise either. This file builds
 * the same structure with PBKDF2-HMAC-SHA-256 at 600,000 iterations, a 16-byte salt and
 * AES-256-CBC, which `openssl pkey` and `crypto.createPrivateKey` both read.
 */
import * as crypto from 'node:crypto';
import { promisify } from 'node:util';

export const PRIVATE_KEY_PBKDF2_ITERATIONS = 600_000;

const pbkdf2 = promisify(crypto.pbkdf2);

// DER encodings of the object identifiers, tag and length included.
const OID_PBES2 = Buffer.from('06092a864886f70d01050d', 'hex'); // 1.2.840.113549.1.5.13
const OID_PBKDF2 = Buffer.from('06092a864886f70d01050c', 'hex'); // 1.2.840.113549.1.5.12
const OID_HMAC_SHA256 = Buffer.from('06082a864886f70d0209', 'hex'); // 1.2.840.113549.2.9
const OID_AES256_CBC = Buffer.from('060960864801650304012a', 'hex'); // 2.16.840.1.101.3.4.1.42
const DER_NULL = Buffer.from('0500', 'hex');

const TAG_INTEGER = 0x02;
const TAG_OCTET_STRING = 0x04;
const TAG_SEQUENCE = 0x30;

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function der(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

function derInteger(value: number): Buffer {
  const bytes: number[] = [];
  for (let rest = value; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest & 0xff);
  // A leading 1 bit would make the integer negative, so DER adds a zero byte.
  if (bytes.length === 0 || bytes[0] & 0x80) bytes.unshift(0);
  return der(TAG_INTEGER, Buffer.from(bytes));
}

/**
 * Returns `privateKey` as an "ENCRYPTED PRIVATE KEY" PEM, sealed with `passphrase`.
 * The key derivation runs on libuv's thread pool.
 */
export async function encryptPrivateKeyPem(
  privateKey: crypto.KeyObject,
  passphrase: string,
  iterations: number = PRIVATE_KEY_PBKDF2_ITERATIONS,
): Promise<string> {
  const salt = crypto.randomBytes(16);
  const iv = crypto.randomBytes(16);
  const key = await pbkdf2(Buffer.from(passphrase, 'utf8'), salt, iterations, 32, 'sha256');
  const plain = privateKey.export({ type: 'pkcs8', format: 'der' });
  const cipher = crypto.createCipheriv('aes-256-cbc', key, iv);
  const encrypted = Buffer.concat([cipher.update(plain), cipher.final()]);

  const kdf = der(TAG_SEQUENCE, OID_PBKDF2, der(TAG_SEQUENCE,
    der(TAG_OCTET_STRING, salt),
    derInteger(iterations),
    der(TAG_SEQUENCE, OID_HMAC_SHA256, DER_NULL),
  ));
  const scheme = der(TAG_SEQUENCE, OID_AES256_CBC, der(TAG_OCTET_STRING, iv));
  const algorithm = der(TAG_SEQUENCE, OID_PBES2, der(TAG_SEQUENCE, kdf, scheme));
  const info = der(TAG_SEQUENCE, algorithm, der(TAG_OCTET_STRING, encrypted));

  const body = info.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ENCRYPTED PRIVATE KEY-----\n${body}\n-----END ENCRYPTED PRIVATE KEY-----\n`;
}
