/**
 * Writes an encrypted ZIP to a file so that the file appears only when it is complete.
 */
import { randomBytes } from 'node:crypto';
import { close, createWriteStream, fsync, open } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { SftError, isSftError } from '../errors';
import { encodeZipPassword } from './password';
import { writeEncryptedZip, type ZipEntries, type ZipSummary } from './writer';

/** Permissions of the written archive: readable by its owner only. */
const ZIP_FILE_MODE = 0o600;

// A numeric descriptor, because FileHandle.close() waits for every stream on the handle to
// close, and a stream that closes the file itself would close it before fsync.
const openAsync = promisify(open);
const fsyncAsync = promisify(fsync);
const closeAsync = promisify(close);

/**
 * Writes an encrypted ZIP of `entries` to `outPath`, replacing any file there. The archive
 * is written to a temporary file in the same folder, flushed to disk (fsync) and renamed to
 * `outPath` only on success. On failure the temporary file is removed and `outPath` is left
 * as it was. Errors are those of `writeEncryptedZip`, plus `FILE_NOT_FOUND` when the
 * folder of `outPath` does not exist.
 */
export async function writeEncryptedZipFile(outPath: string, entries: ZipEntries, password: string): Promise<ZipSummary> {
  // Checked here as well, so that a bad password leaves no temporary file behind.
  encodeZipPassword(password).fill(0);

  const folder = path.dirname(path.resolve(outPath));
  const tempPath = path.join(folder, `.${path.basename(outPath)}.${randomBytes(6).toString('hex')}.partial`);
  let fd: number | undefined;

  try {
    fd = await openAsync(tempPath, 'wx', ZIP_FILE_MODE);
    const summary = await writeEncryptedZip(createWriteStream('', { fd, autoClose: false }), entries, password);
    await fsyncAsync(fd);
    const closing = fd;
    fd = undefined;
    await closeAsync(closing);

    await rename(tempPath, outPath);
    await syncFolder(folder);
    return summary;
  } catch (error) {
    if (fd !== undefined) {
      await closeAsync(fd).catch(() => undefined);
    }
    await rm(tempPath, { force: true }).catch(() => undefined);
    throw toFileError(error, outPath);
  }
}

/** Flushes the folder entry of a rename. Windows cannot open a folder for this and needs no such step. */
async function syncFolder(folder: string): Promise<void> {
  if (process.platform === 'win32') {
    return;
  }
  const folderFd = await openAsync(folder, 'r');
  try {
    await fsyncAsync(folderFd);
  } finally {
    await closeAsync(folderFd);
  }
}

function toFileError(error: unknown, outPath: string): SftError {
  if (isSftError(error)) {
    return error;
  }
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'ENOENT') {
    return new SftError('FILE_NOT_FOUND', `Cannot write ZIP ${outPath}: its folder does not exist. Create the folder first.`, {
      cause: error,
    });
  }
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new SftError('DISK_FULL', `Writing ZIP ${outPath} failed because the disk is full. Free some space and try again.`, {
      cause: error,
    });
  }
  return new SftError('IO_FAILED', `Writing ZIP ${outPath} failed: ${message}`, { cause: error });
}
