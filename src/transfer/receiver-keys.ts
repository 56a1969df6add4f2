/**
 * The receiver's key files in its store, for the command line: the TLS identity and the
 * RSA key pair that senders encrypt envelopes to.
 *
 * ```
 * STORE/identity/tls-key.pem          TLS private key, mode 0600, not encrypted
 * STORE/identity/tls-cert.pem         self-signed certificate; its fingerprint pins the receiver
 * STORE/identity/envelope-key.pem     RSA private key for envelopes, mode 0600, encrypted with the identity passphrase if one was given
 * STORE/identity/envelope-public.pem  its public key, sent to senders after login
 * ```
 *
 * The extension keeps the same material in its secret storage instead and passes it to
 * `Receiver` directly; `createReceiverKeys()` makes a new set in memory for that.
 */
import * as crypto from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { SftError } from '../errors';
import { DEFAULT_RSA_BITS, generateKeyPair, parsePrivateKey, parsePublicKey } from '../crypto';
import { PRIVATE_DIRECTORY_MODE, readBoundedFile, writeFileAtomic } from '../storage/atomic-file';
import { TlsIdentity, certificateFingerprint, createTlsIdentity } from './identity';

export const IDENTITY_FOLDER_NAME = 'identity';
export const TLS_KEY_FILE = 'tls-key.pem';
export const TLS_CERT_FILE = 'tls-cert.pem';
export const ENVELOPE_KEY_FILE = 'envelope-key.pem';
export const ENVELOPE_PUBLIC_KEY_FILE = 'envelope-public.pem';
const MAX_PEM_BYTES = 64 * 1024;

const generateKeyPairAsync = promisify(crypto.generateKeyPair);

/** Everything a receiver needs to run, as PEM text. */
export interface ReceiverKeys {
  tls: TlsIdentity;
  /** RSA private key for envelopes; encrypted PKCS#8 when a passphrase was given. */
  envelopePrivateKeyPem: string;
  envelopePublicKeyPem: string;
}

/** Creates a new TLS identity and envelope key pair in memory. */
export async function createReceiverKeys(options: { identityPassphrase?: string; rsaBits?: number } = {}): Promise<ReceiverKeys> {
  const [tls, envelope] = await Promise.all([createTlsIdentity(), createEnvelopeKeyPair(options.identityPassphrase, options.rsaBits ?? DEFAULT_RSA_BITS)]);
  return { tls, envelopePrivateKeyPem: envelope.privateKeyPem, envelopePublicKeyPem: envelope.publicKeyPem };
}

async function createEnvelopeKeyPair(passphrase: string | undefined, bits: number): Promise<{ privateKeyPem: string; publicKeyPem: string }> {
  if (passphrase !== undefined) {
    return generateKeyPair(passphrase, bits);
  }
  const { privateKey, publicKey } = await generateKeyPairAsync('rsa', {
    modulusLength: bits,
    publicExponent: 0x10001,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

/** Keys that `loadOrCreateReceiverKeys` loaded or created. */
export interface StoredReceiverKeys {
  tls: TlsIdentity;
  publicKey: crypto.KeyObject;
  publicKeyPem: string;
  /** False when the envelope private key is stored in clear (mode 0600). */
  privateKeyEncrypted: boolean;
  /** Names of the files created by this call. */
  created: string[];
}

/**
 * Loads the receiver's keys from `storeDir/identity`, creating the missing ones. A new
 * envelope private key is encrypted with `identityPassphrase` when given. Throws
 * KEY_INVALID for a damaged key file and KEY_PASSPHRASE_MISSING when the public key must be
 * recovered from an encrypted private key without a passphrase.
 */
export async function loadOrCreateReceiverKeys(storeDir: string, options: { identityPassphrase?: string; rsaBits?: number } = {}): Promise<StoredReceiverKeys> {
  const folder = path.join(storeDir, IDENTITY_FOLDER_NAME);
  try {
    await fs.mkdir(folder, { recursive: true, mode: PRIVATE_DIRECTORY_MODE });
  } catch (error) {
    throw new SftError('IO_FAILED', `Cannot create ${folder}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`, { cause: error });
  }
  const created: string[] = [];

  let tlsKeyPem = await readPem(folder, TLS_KEY_FILE);
  let certPem = await readPem(folder, TLS_CERT_FILE);
  if (tlsKeyPem === undefined || certPem === undefined) {
    // A key without its certificate (or the reverse) is a crash between the two writes; start over.
    const identity = await createTlsIdentity();
    await writeFileAtomic(path.join(folder, TLS_KEY_FILE), identity.keyPem);
    await writeFileAtomic(path.join(folder, TLS_CERT_FILE), identity.certPem);
    tlsKeyPem = identity.keyPem;
    certPem = identity.certPem;
    created.push(TLS_KEY_FILE, TLS_CERT_FILE);
  }
  const tls: TlsIdentity = { keyPem: tlsKeyPem, certPem, fingerprint: certificateFingerprint(certPem) };
  checkTlsPair(tls, folder);

  let privateKeyPem = await readPem(folder, ENVELOPE_KEY_FILE);
  let publicKeyPem = await readPem(folder, ENVELOPE_PUBLIC_KEY_FILE);
  if (privateKeyPem === undefined) {
    if (publicKeyPem !== undefined) {
      throw new SftError(
        'KEY_INVALID',
        `${path.join(folder, ENVELOPE_KEY_FILE)} is missing but its public key exists, so files sent to this receiver cannot be exported. Restore the private key from a backup.`,
      );
    }
    const pair = await createEnvelopeKeyPair(options.identityPassphrase, options.rsaBits ?? DEFAULT_RSA_BITS);
    // The private key goes first: a crash before the public key is written is repaired below.
    await writeFileAtomic(path.join(folder, ENVELOPE_KEY_FILE), pair.privateKeyPem);
    await writeFileAtomic(path.join(folder, ENVELOPE_PUBLIC_KEY_FILE), pair.publicKeyPem);
    privateKeyPem = pair.privateKeyPem;
    publicKeyPem = pair.publicKeyPem;
    created.push(ENVELOPE_KEY_FILE, ENVELOPE_PUBLIC_KEY_FILE);
  } else if (publicKeyPem === undefined) {
    const privateKey = parsePrivateKey(privateKeyPem, options.identityPassphrase, path.join(folder, ENVELOPE_KEY_FILE));
    publicKeyPem = crypto.createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
    await writeFileAtomic(path.join(folder, ENVELOPE_PUBLIC_KEY_FILE), publicKeyPem);
    created.push(ENVELOPE_PUBLIC_KEY_FILE);
  }

  const publicKey = parsePublicKey(publicKeyPem, path.join(folder, ENVELOPE_PUBLIC_KEY_FILE));
  return { tls, publicKey, publicKeyPem, privateKeyEncrypted: privateKeyPem.includes('ENCRYPTED'), created };
}

/**
 * Loads the receiver's envelope private key, for export. Throws FILE_NOT_FOUND when the
 * store has none, KEY_PASSPHRASE_MISSING or KEY_PASSPHRASE_WRONG for an encrypted key.
 */
export async function loadReceiverPrivateKey(storeDir: string, identityPassphrase?: string): Promise<crypto.KeyObject> {
  const folder = path.join(storeDir, IDENTITY_FOLDER_NAME);
  const pem = await readPem(folder, ENVELOPE_KEY_FILE);
  if (pem === undefined) {
    throw new SftError('FILE_NOT_FOUND', `${path.join(folder, ENVELOPE_KEY_FILE)} not found. Check --store: it must be the folder "sft receive" used.`);
  }
  return parsePrivateKey(pem, identityPassphrase, path.join(folder, ENVELOPE_KEY_FILE));
}

async function readPem(folder: string, name: string): Promise<string | undefined> {
  const file = path.join(folder, name);
  try {
    return await readBoundedFile(file, MAX_PEM_BYTES);
  } catch (error) {
    throw new SftError('KEY_INVALID', `Cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
}

function checkTlsPair(tls: TlsIdentity, folder: string): void {
  let matches = false;
  try {
    matches = new crypto.X509Certificate(tls.certPem).checkPrivateKey(crypto.createPrivateKey(tls.keyPem));
  } catch {
    matches = false;
  }
  if (!matches) {
    throw new SftError(
      'KEY_INVALID',
      `The TLS key and certificate in ${folder} are damaged or do not belong together. Delete ${TLS_KEY_FILE} and ${TLS_CERT_FILE} to make a new identity; senders will then see a new fingerprint.`,
    );
  }
}
