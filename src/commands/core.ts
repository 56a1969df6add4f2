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

/** The crypto core: envelopes, stanzas, RSA keys. */
export function loadCrypto(): Promise<CryptoModule> {
  return import('../crypto');
}

/** The AES-256 ZIP writer. */
export function loadZip(): Promise<ZipModule> {
  return import('../zip');
}
