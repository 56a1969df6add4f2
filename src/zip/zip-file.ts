/**
 * Writes an encrypted ZIP to a file so that the file appears only when it is complete.
 */
import { OutputOptions, writeOutputAtomically } from '../atomic-output';
import { SftError, isSftError } from '../errors';
import { encodeZipPassword } from './password';
import { writeEncryptedZip, type ZipEntries, type ZipSummary } from './writer';

/**
 * Writes an encrypted ZIP of `entries` to `outPath`, replacing any file there unless
 * `replace` is false. The archive is written to a temporary file in the same folder, flushed
 * to disk (fsync) and moved to `outPath` only on success (see atomic-output.ts). On failure
 * the temporary file is removed and `outPath` is left as it was. Errors are those of
 * `writeEncryptedZip`, plus `FILE_NOT_FOUND` when the folder of `outPath` does not exist
 * and `FILE_EXISTS` when `replace` is false and `outPath` exists.
 */
export async function writeEncryptedZipFile(outPath: string, entries: ZipEntries, password: string, options: OutputOptions = {}): Promise<ZipSummary> {
  // Checked here as well, so that a bad password leaves no temporary file behind.
  encodeZipPassword(password).fill(0);
  try {
    return await writeOutputAtomically(outPath, (output) => writeEncryptedZip(output, entries, password), options);
  } catch (error) {
    throw toFileError(error, outPath);
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
