/**
 * The crypto core's public interface: envelopes, stanzas and RSA keys.
 */
export { CHUNK_SIZE, SEALED_CHUNK_SIZE, MAX_HEADER_BYTES, StanzaType, envelopeSize, parseHeader } from './format';
export type { Header, Stanza } from './format';
export { EnvelopeWriter, MAX_NAME_LENGTH, openEnvelope, readHeader } from './envelope';
export type { EnvelopeSeam, FileMetadata, OpenedEnvelope } from './envelope';
export { DEFAULT_PBKDF2_ITERATIONS, MAX_PASSPHRASE_BYTES, derivePassphraseKey } from './stanza';
export type { Identities, PassphraseKey, Recipient } from './stanza';
export { inspectEnvelope } from './inspect';
export type { EnvelopeSummary, StanzaKind } from './inspect';
export { STDIO, decryptFile, encryptFile, ioError, writeFileAtomically } from './files';
export {
  ALLOWED_RSA_BITS,
  DEFAULT_RSA_BITS,
  fingerprint,
  fingerprintBytes,
  formatFingerprint,
  generateKeyPair,
  loadPrivateKey,
  loadPublicKey,
  parsePrivateKey,
  parsePublicKey,
  writeKeyPair,
} from './keys';
export type { KeyPairPem } from './keys';
