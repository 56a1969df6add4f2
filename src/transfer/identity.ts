/**
 * The receiver's TLS identity: a self-signed certificate, and fingerprints that pin it.
 *
 * `node:crypto` generates the RSA key; `node-forge` only builds and signs the X.509
 * certificate, because Node.js has no API to create one. The fingerprint is `SHA256:` and
 * the unpadded base64 of the SHA-256 of the certificate's DER bytes.
 */
import * as crypto from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';
import { SftError } from '../errors';
import { formatFingerprint } from '../crypto';

export const TLS_KEY_BITS = 3072;
export const CERTIFICATE_VALIDITY_YEARS = 20;
export const CERTIFICATE_COMMON_NAME = 'sft receiver';
/** `SHA256:` and 43 base64 characters: 32 bytes without padding. */
const FINGERPRINT_PATTERN = /^SHA256:[A-Za-z0-9+/]{43}$/;

const generateKeyPairAsync = promisify(crypto.generateKeyPair);

/** A receiver's TLS key and certificate, PEM encoded, with the certificate's fingerprint. */
export interface TlsIdentity {
  keyPem: string;
  certPem: string;
  fingerprint: string;
}

/** Generates an RSA key and a self-signed certificate over it. Takes about a second for 3,072 bits. */
export async function createTlsIdentity(options: { bits?: number; now?: Date } = {}): Promise<TlsIdentity> {
  const { privateKey, publicKey } = await generateKeyPairAsync('rsa', {
    modulusLength: options.bits ?? TLS_KEY_BITS,
    publicExponent: 0x10001,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });

  const now = options.now ?? new Date();
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = forge.pki.publicKeyFromPem(publicKey);
  // A positive serial: the first byte's high bit is cleared so DER does not read it as negative.
  const serial = crypto.randomBytes(16);
  serial[0] &= 0x7f;
  certificate.serialNumber = serial.toString('hex');
  certificate.validity.notBefore = new Date(now.getTime() - 24 * 60 * 60 * 1000);
  certificate.validity.notAfter = new Date(now.getTime());
  certificate.validity.notAfter.setFullYear(now.getFullYear() + CERTIFICATE_VALIDITY_YEARS);
  const subject = [{ name: 'commonName', value: CERTIFICATE_COMMON_NAME }];
  certificate.setSubject(subject);
  certificate.setIssuer(subject);
  certificate.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
  ]);
  // forge cannot sign with a node KeyObject, so it gets its own parse of the same PEM.
  certificate.sign(forge.pki.privateKeyFromPem(privateKey), forge.md.sha256.create());

  const certPem = forge.pki.certificateToPem(certificate);
  return { keyPem: privateKey, certPem, fingerprint: certificateFingerprint(certPem) };
}

/**
 * Returns the fingerprint of a certificate given as DER bytes or PEM text.
 * Throws SftError('KEY_INVALID') when the PEM text contains no certificate.
 */
export function certificateFingerprint(certificate: Buffer | string): string {
  let der: Buffer;
  if (typeof certificate === 'string') {
    try {
      der = new crypto.X509Certificate(certificate).raw;
    } catch {
      throw new SftError('KEY_INVALID', 'The TLS certificate is not valid PEM. Delete the identity folder in the store to create a new one.');
    }
  } else {
    der = certificate;
  }
  return formatFingerprint(crypto.createHash('sha256').update(der).digest());
}

/** Returns true when `text` has the form of a receiver fingerprint. */
export function isFingerprint(text: string): boolean {
  return FINGERPRINT_PATTERN.test(text);
}

/**
 * Checks a fingerprint given by a user and returns it. `source` names where it came from,
 * for the error. Throws SftError('USAGE') for any other form.
 */
export function parseFingerprint(text: string, source: string): string {
  const trimmed = text.trim();
  if (!isFingerprint(trimmed)) {
    throw new SftError(
      'USAGE',
      `Invalid fingerprint "${trimmed.slice(0, 80)}" in ${source}. Expected SHA256: followed by 43 base64 characters, as "sft receive" prints it.`,
    );
  }
  return trimmed;
}
