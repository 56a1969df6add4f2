/** Public interface of the encrypted ZIP writer. */
export { writeEncryptedZip, type ZipEntries, type ZipEntrySource, type ZipSummary } from './writer';
export { writeEncryptedZipFile } from './zip-file';
export { MAX_ZIP_PASSWORD_BYTES, encodeZipPassword } from './password';
