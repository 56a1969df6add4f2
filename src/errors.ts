/**
 * Typed errors shared by the core modules, the command line and the extension.
 *
 * Every error that reaches a user is an `SftError` with a stable `code`, a message
 * that names the value that failed and says what to do next, and never a secret.
 */

/** Stable error codes. The command line maps them to exit statuses and the extension to messages. */
export type SftErrorCode =
  // Usage and input files.
  | 'USAGE'
  | 'FILE_NOT_FOUND'
  | 'FILE_EXISTS'
  | 'IO_FAILED'
  // Keys.
  | 'KEY_INVALID'
  | 'KEY_TOO_SMALL'
  | 'KEY_PASSPHRASE_WRONG'
  | 'KEY_PASSPHRASE_MISSING'
  // Envelope parsing and decryption.
  | 'ENVELOPE_MALFORMED'
  | 'ENVELOPE_UNSUPPORTED_VERSION'
  | 'ENVELOPE_LIMIT_EXCEEDED'
  | 'ENVELOPE_NO_MATCHING_STANZA'
  | 'ENVELOPE_WRONG_PASSPHRASE'
  | 'ENVELOPE_WRONG_KEY'
  | 'ENVELOPE_HEADER_TAMPERED'
  | 'ENVELOPE_PAYLOAD_TAMPERED'
  | 'ENVELOPE_TRUNCATED'
  | 'ENVELOPE_TRAILING_DATA'
  // Transfer protocol, accounts and storage.
  | 'PROTOCOL_VIOLATION'
  | 'PROTOCOL_LIMIT_EXCEEDED'
  | 'PROTOCOL_UNSUPPORTED_VERSION'
  | 'TIMEOUT'
  | 'CONNECTION_FAILED'
  | 'FINGERPRINT_UNKNOWN'
  | 'FINGERPRINT_CHANGED'
  | 'LOGIN_FAILED'
  | 'LOGIN_LOCKED'
  | 'ACCOUNT_EXISTS'
  | 'ACCOUNT_NOT_FOUND'
  | 'NAME_INVALID'
  | 'DISK_FULL'
  | 'FILE_TOO_LARGE'
  | 'TRANSFER_REJECTED'
  | 'TRANSFER_CANCELLED'
  | 'HASH_MISMATCH'
  | 'STORE_ENTRY_NOT_FOUND'
  | 'STORE_CORRUPT'
  // ZIP export.
  | 'ZIP_FAILED'
  | 'ZIP_PASSWORD_INVALID'
  | 'ZIP_ENTRY_NAME_INVALID';

/** An error with a stable code; the message is safe to show and to log. */
export class SftError extends Error {
  readonly code: SftErrorCode;

  constructor(code: SftErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SftError';
    this.code = code;
  }
}

/** Returns true when `error` is an `SftError`, optionally with one of `codes`. */
export function isSftError(error: unknown, ...codes: SftErrorCode[]): error is SftError {
  return error instanceof SftError && (codes.length === 0 || codes.includes(error.code));
}
