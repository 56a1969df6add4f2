/**
 * Secrets of the extension, all in VS Code's SecretStorage: the receiver's TLS key and
 * envelope private key, and sender passwords the user chose to remember.
 *
 * Nothing here is written to settings, globalState or the log.
 */
import * as vscode from 'vscode';

const RECEIVER_IDENTITY_KEY = 'secureFileTransfer.receiverIdentity.v1';
const PASSWORD_KEY_PREFIX = 'secureFileTransfer.password.v1:';

/** The receiver's key material. The private keys are PEM without a passphrase: SecretStorage protects them. */
export interface ReceiverIdentity {
  tlsKeyPem: string;
  tlsCertPem: string;
  envelopePrivateKeyPem: string;
  envelopePublicKeyPem: string;
}

function isReceiverIdentity(value: unknown): value is ReceiverIdentity {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const fields = value as Record<string, unknown>;
  return ['tlsKeyPem', 'tlsCertPem', 'envelopePrivateKeyPem', 'envelopePublicKeyPem'].every(
    (name) => typeof fields[name] === 'string' && (fields[name] as string).includes('-----BEGIN '),
  );
}

export class Secrets {
  private identityCreation: Promise<ReceiverIdentity> | undefined;

  constructor(
    private readonly storage: vscode.SecretStorage,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /** Returns the stored receiver identity, or undefined when there is none or it is unreadable. */
  async receiverIdentity(): Promise<ReceiverIdentity | undefined> {
    const text = await this.storage.get(RECEIVER_IDENTITY_KEY);
    if (text === undefined) {
      return undefined;
    }
    try {
      const value: unknown = JSON.parse(text);
      if (isReceiverIdentity(value)) {
        return value;
      }
    } catch {
      // Reported below, without the text, because it contains private keys.
    }
    this.log.error('The receiver identity in secret storage is damaged; the receiver cannot start until it is replaced.');
    return undefined;
  }

  /**
   * Returns the receiver identity, creating and storing it with `create` on first use.
   * Concurrent callers share one creation.
   */
  async receiverIdentityOrCreate(create: () => Promise<ReceiverIdentity>): Promise<ReceiverIdentity> {
    const existing = await this.receiverIdentity();
    if (existing) {
      return existing;
    }
    if (!this.identityCreation) {
      this.identityCreation = (async () => {
        const identity = await create();
        await this.storage.store(RECEIVER_IDENTITY_KEY, JSON.stringify(identity));
        this.log.info('Created the receiver identity (TLS key and envelope key) in secret storage.');
        return identity;
      })().finally(() => {
        this.identityCreation = undefined;
      });
    }
    return this.identityCreation;
  }

  /** Returns the remembered password of `username` at receiver `address`. */
  password(address: string, username: string): Thenable<string | undefined> {
    return this.storage.get(passwordKey(address, username));
  }

  rememberPassword(address: string, username: string, password: string): Thenable<void> {
    return this.storage.store(passwordKey(address, username), password);
  }

  forgetPassword(address: string, username: string): Thenable<void> {
    return this.storage.delete(passwordKey(address, username));
  }
}

function passwordKey(address: string, username: string): string {
  return `${PASSWORD_KEY_PREFIX}${address.toLowerCase()}:${username}`;
}
