/**
 * Loads the core modules on first use.
 *
 * The VS Code layer imports core code only through these functions (types may be imported
 * directly), so activation neither runs nor initializes the crypto, storage, transfer or
 * ZIP modules and node-forge. esbuild turns each `import()` into a lazily initialized
 * module inside the one bundle.
 */
export type CryptoModule = typeof import('../crypto');
export type ZipModule = typeof import('../zip');

/** Loads the crypto core: envelopes, stanzas, RSA keys. */
export function loadCrypto(): Promise<CryptoModule> {
  return import('../crypto');
}

/** Loads the AES-256 ZIP writer. */
export function loadZip(): Promise<ZipModule> {
  return import('../zip');
}

export type StorageModule = typeof import('../storage/store');
export type AccountsModule = typeof import('../storage/accounts');

/** Loads the receiver's store of received envelopes. */
export function loadStorage(): Promise<StorageModule> {
  return import('../storage/store');
}

/** Loads the receiver's sender accounts. */
export function loadAccounts(): Promise<AccountsModule> {
  return import('../storage/accounts');
}

export type ReceiverModule = typeof import('../transfer/receiver');
export type ReceiverKeysModule = typeof import('../transfer/receiver-keys');
export type LinkModule = typeof import('../transfer/link');

/** Loads the TLS receiver. */
export function loadReceiver(): Promise<ReceiverModule> {
  return import('../transfer/receiver');
}

/** Loads the creation of a receiver's TLS identity and envelope key pair. */
export function loadReceiverKeys(): Promise<ReceiverKeysModule> {
  return import('../transfer/receiver-keys');
}

/** Loads receiver links and HOST:PORT parsing. */
export function loadLink(): Promise<LinkModule> {
  return import('../transfer/link');
}

export type SenderModule = typeof import('../transfer/sender');

/** Loads the sender, which encrypts and uploads files and folders. */
export function loadSender(): Promise<SenderModule> {
  return import('../transfer/sender');
}

export type KnownReceiversModule = typeof import('../transfer/known-receivers');

/** Loads the known-receivers file that pins receiver fingerprints. */
export function loadKnownReceivers(): Promise<KnownReceiversModule> {
  return import('../transfer/known-receivers');
}
