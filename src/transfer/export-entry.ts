/**
 * Export of a received file: its envelope is decrypted and streamed straight into an
 * AES-256 ZIP, so the plaintext never touches the disk outside the encrypted archive.
 */
import type { KeyObject } from 'node:crypto';
import { SftError } from '../errors';
import { FileMetadata, openEnvelope } from '../crypto';
import type { Store, StoreEntry } from '../storage/store';
import { writeEncryptedZipFile } from '../zip';

export interface ExportOptions {
  /** Path of the ZIP, replaced only once the archive is complete. */
  outPath: string;
  /** The sender's passphrase of the envelope. */
  passphrase: string;
  /** The receiver's envelope private key. */
  privateKey: KeyObject;
  zipPassword: string;
  /** False: fail with FILE_EXISTS instead of replacing a file at `outPath`. Default true. */
  replace?: boolean;
}

export interface ExportResult {
  entry: StoreEntry;
  /** Metadata from inside the envelope: the original name, size and modification time. */
  metadata: FileMetadata;
  /** Name of the file inside the ZIP: the entry's safe relative path, or its display name. */
  zipEntryName: string;
  archiveBytes: number;
}

/**
 * Finds an entry by its id or by a prefix of at least 6 characters that only one id has.
 * Throws STORE_ENTRY_NOT_FOUND, or USAGE for a prefix several ids share.
 */
export function findEntry(store: Store, idOrPrefix: string): StoreEntry {
  const wanted = idOrPrefix.trim().toLowerCase();
  const exact = store.list().find((entry) => entry.id === wanted);
  if (exact !== undefined) {
    return exact;
  }
  const matches = wanted.length >= 6 ? store.list().filter((entry) => entry.id.startsWith(wanted)) : [];
  if (matches.length === 1) {
    return matches[0];
  }
  if (matches.length > 1) {
    throw new SftError('USAGE', `Entry id prefix "${wanted}" matches ${matches.length} entries. Give more characters of the id ("sft list" shows them).`);
  }
  throw new SftError('STORE_ENTRY_NOT_FOUND', `No stored file has id "${idOrPrefix.slice(0, 80)}" in ${store.dir}. Run "sft list --store ${store.dir}" to see the ids.`);
}

/**
 * Decrypts entry `id` of `store` into a password-protected ZIP at `options.outPath`.
 * Throws the crypto core's errors for a wrong passphrase or key (before anything is
 * written) and for a damaged envelope (the partial ZIP is removed), and the ZIP writer's
 * errors for an invalid password or output path.
 */
export async function exportEntryToZip(store: Store, id: string, options: ExportOptions): Promise<ExportResult> {
  const entry = findEntry(store, id);
  const opened = await openEnvelope(store.openEnvelope(entry.id), { passphrase: options.passphrase, privateKeys: [options.privateKey] });
  const zipEntryName = entry.relativePath || entry.displayName;
  const mtimeMs = opened.metadata.mtimeMs ?? Date.parse(entry.receivedAt);
  const mtime = Number.isFinite(mtimeMs) ? new Date(mtimeMs) : new Date();
  try {
    const summary = await writeEncryptedZipFile(options.outPath, [{ name: zipEntryName, mtime, source: opened.payload }], options.zipPassword, {
      replace: options.replace,
    });
    return { entry, metadata: opened.metadata, zipEntryName, archiveBytes: summary.archiveBytes };
  } finally {
    opened.payload.destroy();
  }
}
