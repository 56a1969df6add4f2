/**
 * Messages between the extension and its webviews, with validators for each direction.
 *
 * Both sides treat what arrives over `postMessage` as untrusted: a message that fails
 * its validator is dropped. This file imports neither `vscode` nor the DOM, so the
 * extension and the webview bundles share it.
 */

/** Longest text accepted in any message field; passwords and paths are far shorter. */
export const MAX_FIELD_LENGTH = 4096;
/** Shortest passphrase that the send and download forms accept. */
export const MIN_PASSPHRASE_LENGTH = 8;

// Login webview.

export type LoginField = 'receiver' | 'username' | 'password' | 'passphrase' | 'passphraseConfirm';

/** Extension to login webview. */
export type LoginHostMessage =
  | { type: 'init'; receiver: string; username: string; files: string[]; passwordRemembered: boolean; receiverLocked: boolean }
  | { type: 'busy'; text: string }
  | { type: 'error'; field: LoginField | 'general'; text: string }
  | { type: 'confirmFingerprint'; address: string; fingerprint: string }
  | { type: 'fingerprintChanged'; address: string; text: string };

/** Login webview to extension. */
export type LoginViewMessage =
  | { type: 'ready' }
  | {
      type: 'submit';
      receiver: string;
      username: string;
      password: string;
      passphrase: string;
      passphraseConfirm: string;
      rememberPassword: boolean;
    }
  | { type: 'fingerprintAnswer'; accepted: boolean }
  | { type: 'cancel' };

// Download webview.

export type DownloadField = 'passphrase' | 'zipPassword' | 'zipPasswordConfirm';

/** Extension to download webview. */
export type DownloadHostMessage =
  | { type: 'init'; name: string; size: string; sender: string; receivedAt: string }
  | { type: 'busy'; text: string }
  | { type: 'error'; field: DownloadField | 'general'; text: string; attemptsLeft?: number }
  | { type: 'locked'; text: string };

/** Download webview to extension. */
export type DownloadViewMessage =
  | { type: 'ready' }
  | { type: 'submit'; passphrase: string; zipPassword: string; zipPasswordConfirm: string; usePassphrase: boolean }
  | { type: 'cancel' };

// Validators.

type Fields = Record<string, unknown>;

function asFields(value: unknown): Fields | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return undefined;
  }
  return value as Fields;
}

function isText(value: unknown, maxLength = MAX_FIELD_LENGTH): value is string {
  return typeof value === 'string' && value.length <= maxLength;
}

function isTextList(value: unknown, maxItems: number): value is string[] {
  return Array.isArray(value) && value.length <= maxItems && value.every((item) => isText(item));
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 1000;
}

const LOGIN_FIELDS: readonly string[] = ['receiver', 'username', 'password', 'passphrase', 'passphraseConfirm', 'general'];
const DOWNLOAD_FIELDS: readonly string[] = ['passphrase', 'zipPassword', 'zipPasswordConfirm', 'general'];

/** Returns the message when it is a well-formed LoginViewMessage, else undefined. */
export function parseLoginViewMessage(value: unknown): LoginViewMessage | undefined {
  const m = asFields(value);
  switch (m?.type) {
    case 'ready':
    case 'cancel':
      return { type: m.type };
    case 'submit':
      if (
        isText(m.receiver) &&
        isText(m.username) &&
        isText(m.password) &&
        isText(m.passphrase) &&
        isText(m.passphraseConfirm) &&
        typeof m.rememberPassword === 'boolean'
      ) {
        return {
          type: 'submit',
          receiver: m.receiver,
          username: m.username,
          password: m.password,
          passphrase: m.passphrase,
          passphraseConfirm: m.passphraseConfirm,
          rememberPassword: m.rememberPassword,
        };
      }
      return undefined;
    case 'fingerprintAnswer':
      return typeof m.accepted === 'boolean' ? { type: 'fingerprintAnswer', accepted: m.accepted } : undefined;
    default:
      return undefined;
  }
}

/** Returns the message when it is a well-formed LoginHostMessage, else undefined. */
export function parseLoginHostMessage(value: unknown): LoginHostMessage | undefined {
  const m = asFields(value);
  switch (m?.type) {
    case 'init':
      if (
        isText(m.receiver) &&
        isText(m.username) &&
        isTextList(m.files, 10_000) &&
        typeof m.passwordRemembered === 'boolean' &&
        typeof m.receiverLocked === 'boolean'
      ) {
        return {
          type: 'init',
          receiver: m.receiver,
          username: m.username,
          files: m.files,
          passwordRemembered: m.passwordRemembered,
          receiverLocked: m.receiverLocked,
        };
      }
      return undefined;
    case 'busy':
      return isText(m.text) ? { type: 'busy', text: m.text } : undefined;
    case 'error':
      if (isText(m.field) && LOGIN_FIELDS.includes(m.field) && isText(m.text)) {
        return { type: 'error', field: m.field as LoginField | 'general', text: m.text };
      }
      return undefined;
    case 'confirmFingerprint':
      return isText(m.address) && isText(m.fingerprint)
        ? { type: 'confirmFingerprint', address: m.address, fingerprint: m.fingerprint }
        : undefined;
    case 'fingerprintChanged':
      return isText(m.address) && isText(m.text) ? { type: 'fingerprintChanged', address: m.address, text: m.text } : undefined;
    default:
      return undefined;
  }
}

/** Returns the message when it is a well-formed DownloadViewMessage, else undefined. */
export function parseDownloadViewMessage(value: unknown): DownloadViewMessage | undefined {
  const m = asFields(value);
  switch (m?.type) {
    case 'ready':
    case 'cancel':
      return { type: m.type };
    case 'submit':
      if (isText(m.passphrase) && isText(m.zipPassword) && isText(m.zipPasswordConfirm) && typeof m.usePassphrase === 'boolean') {
        return {
          type: 'submit',
          passphrase: m.passphrase,
          zipPassword: m.zipPassword,
          zipPasswordConfirm: m.zipPasswordConfirm,
          usePassphrase: m.usePassphrase,
        };
      }
      return undefined;
    default:
      return undefined;
  }
}

/** Returns the message when it is a well-formed DownloadHostMessage, else undefined. */
export function parseDownloadHostMessage(value: unknown): DownloadHostMessage | undefined {
  const m = asFields(value);
  switch (m?.type) {
    case 'init':
      return isText(m.name) && isText(m.size) && isText(m.sender) && isText(m.receivedAt)
        ? { type: 'init', name: m.name, size: m.size, sender: m.sender, receivedAt: m.receivedAt }
        : undefined;
    case 'busy':
      return isText(m.text) ? { type: 'busy', text: m.text } : undefined;
    case 'error':
      if (isText(m.field) && DOWNLOAD_FIELDS.includes(m.field) && isText(m.text)) {
        if (m.attemptsLeft !== undefined && !isCount(m.attemptsLeft)) {
          return undefined;
        }
        return { type: 'error', field: m.field as DownloadField | 'general', text: m.text, attemptsLeft: m.attemptsLeft };
      }
      return undefined;
    case 'locked':
      return isText(m.text) ? { type: 'locked', text: m.text } : undefined;
    default:
      return undefined;
  }
}

// Passphrase strength.

export type PassphraseStrength = 'empty' | 'weak' | 'fair' | 'strong';

/**
 * Estimates how hard a passphrase is to guess, for the hint under the field.
 *
 * The estimate is length times the log2 of the character classes used, with a penalty
 * for long runs of one character. It is a hint for people, not a security check:
 * a dictionary phrase can score higher than it deserves.
 */
export function estimatePassphraseStrength(passphrase: string): PassphraseStrength {
  if (passphrase.length === 0) {
    return 'empty';
  }

  let alphabet = 0;
  if (/[a-z]/.test(passphrase)) alphabet += 26;
  if (/[A-Z]/.test(passphrase)) alphabet += 26;
  if (/[0-9]/.test(passphrase)) alphabet += 10;
  if (/[^a-zA-Z0-9]/.test(passphrase)) alphabet += 33;

  const distinct = new Set(passphrase).size;
  const effectiveLength = Math.min(passphrase.length, distinct * 3);
  const bits = effectiveLength * Math.log2(Math.max(alphabet, 2));

  if (passphrase.length < MIN_PASSPHRASE_LENGTH || bits < 50) {
    return 'weak';
  }
  return bits < 80 ? 'fair' : 'strong';
}
