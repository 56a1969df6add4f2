/**
 * Streaming writer of a ZIP archive whose entries are encrypted with WinZip AES-256 (AE-2)
 * and stored without compression. Memory use does not grow with entry sizes: data passes
 * through in batches of 256 KiB. Only a small record per entry (name, sizes, offset, time)
 * is kept until the central directory is written at the end.
 */
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SftError, isSftError } from '../errors';
import { EntryNameSet, encodeEntryName } from './entry-names';
import { encodeZipPassword } from './password';
import {
  centralDirectoryHeader,
  dataDescriptor,
  endOfCentralDirectory,
  localFileHeader,
  type EntryRecord,
} from './records';
import { ENCRYPTION_OVERHEAD_BYTES, WinZipAesEncryptor } from './winzip-aes';

/** One file to put into the archive. */
export interface ZipEntrySource {
  /** Path inside the archive, with "/" between folders, for example "reports/2024/q1.pdf". */
  name: string;
  /** Modification time stored for the entry. */
  mtime: Date;
  /** The entry's bytes: a Readable or any async iterable of byte chunks. */
  source: AsyncIterable<Uint8Array>;
}

/** Entries, given all at once or produced one by one. */
export type ZipEntries = Iterable<ZipEntrySource> | AsyncIterable<ZipEntrySource>;

/** Totals of a written archive. */
export interface ZipSummary {
  entryCount: number;
  archiveBytes: number;
}

/** Bytes the archive stream buffers ahead of a slow output. */
const ARCHIVE_STREAM_BUFFER_BYTES = 1024 * 1024;
/** Central directory headers are joined into chunks of about this size. */
const CENTRAL_DIRECTORY_CHUNK_BYTES = 64 * 1024;

/**
 * Writes an encrypted ZIP of `entries` to `output` and ends `output`. Entries are read one
 * after the other, each source to its end. Resolves when `output` has finished.
 *
 * Errors (all `SftError`):
 * - `ZIP_PASSWORD_INVALID` before anything is written, see `encodeZipPassword`;
 * - `ZIP_ENTRY_NAME_INVALID` for an invalid, repeated or conflicting name;
 * - the source's own `SftError`, or `ZIP_FAILED`, when a source fails;
 * - `DISK_FULL` or `IO_FAILED` when `output` fails.
 *
 * On any failure `output` is destroyed with an incomplete archive in it. The source being
 * read is destroyed too, and sources of entries not yet reached are left to the caller.
 *
 * @example
 *   await writeEncryptedZip(fs.createWriteStream('out.zip'),
 *     [{ name: 'a.txt', mtime: new Date(), source: fs.createReadStream('a.txt') }], 'password');
 */
export async function writeEncryptedZip(output: Writable, entries: ZipEntries, password: string): Promise<ZipSummary> {
  const passwordBytes = encodeZipPassword(password);
  const summary: ZipSummary = { entryCount: 0, archiveBytes: 0 };
  const archive = Readable.from(generateArchive(entries, passwordBytes, summary), {
    objectMode: false,
    highWaterMark: ARCHIVE_STREAM_BUFFER_BYTES,
  });

  try {
    await pipeline(archive, output);
  } catch (error) {
    throw toOutputError(error);
  } finally {
    passwordBytes.fill(0);
  }
  return summary;
}

async function* generateArchive(entries: ZipEntries, password: Buffer, summary: ZipSummary): AsyncGenerator<Buffer> {
  const names = new EntryNameSet();
  const records: EntryRecord[] = [];
  let offset = 0;

  try {
    for await (const entry of entries) {
      const written = yield* generateEntry(entry, password, names, offset);
      records.push(written.record);
      offset += written.bytesWritten;
    }
  } catch (error) {
    throw toZipError(error, 'Writing the ZIP failed');
  }

  const centralDirectoryOffset = offset;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for (const record of records) {
    const header = centralDirectoryHeader(record);
    pending.push(header);
    pendingBytes += header.length;
    offset += header.length;
    if (pendingBytes >= CENTRAL_DIRECTORY_CHUNK_BYTES) {
      yield Buffer.concat(pending);
      pending = [];
      pendingBytes = 0;
    }
  }

  const end = endOfCentralDirectory(records.length, centralDirectoryOffset, offset - centralDirectoryOffset);
  pending.push(end);
  yield Buffer.concat(pending);

  summary.entryCount = records.length;
  summary.archiveBytes = offset + end.length;
}

interface WrittenEntry {
  record: EntryRecord;
  /** Bytes from the local header through the data descriptor. */
  bytesWritten: number;
}

async function* generateEntry(
  entry: ZipEntrySource,
  password: Buffer,
  names: EntryNameSet,
  localHeaderOffset: number,
): AsyncGenerator<Buffer, WrittenEntry> {
  let completed = false;
  try {
    checkEntry(entry);
    const nameBytes = encodeEntryName(entry.name);
    names.add(entry.name);

    const header = localFileHeader(nameBytes, entry.mtime);
    yield header;

    const encryptor = await WinZipAesEncryptor.create(password);
    yield encryptor.header;

    const uncompressedSize = yield* encryptSource(entry, encryptor);
    yield* encryptor.final();

    const compressedSize = uncompressedSize + ENCRYPTION_OVERHEAD_BYTES;
    const descriptor = dataDescriptor(compressedSize, uncompressedSize);
    yield descriptor;

    const bytesWritten = header.length + compressedSize + descriptor.length;
    if (!Number.isSafeInteger(localHeaderOffset + bytesWritten)) {
      throw new SftError('ZIP_FAILED', 'The ZIP archive would exceed 2^53 bytes, the largest size this writer can count.');
    }
    completed = true;
    return {
      record: { nameBytes, mtime: entry.mtime, localHeaderOffset, uncompressedSize, compressedSize },
      bytesWritten,
    };
  } finally {
    // Covers a rejected entry and an output that failed before the source was read to its end.
    if (!completed) {
      destroySource(entry?.source);
    }
  }
}

/** Encrypts the entry's source to its end and returns its size in bytes. */
async function* encryptSource(entry: ZipEntrySource, encryptor: WinZipAesEncryptor): AsyncGenerator<Buffer, number> {
  let size = 0;
  try {
    for await (const chunk of entry.source) {
      if (!(chunk instanceof Uint8Array)) {
        throw new SftError(
          'ZIP_FAILED',
          `The source of ZIP entry ${JSON.stringify(entry.name)} produced a ${typeof chunk} chunk; pass a stream of bytes, not of strings or objects.`,
        );
      }
      size += chunk.length;
      yield* encryptor.update(chunk);
    }
  } catch (error) {
    throw toZipError(error, `Reading the data of ZIP entry ${JSON.stringify(entry.name)} failed`);
  }
  return size;
}

function checkEntry(entry: ZipEntrySource): void {
  if (typeof entry !== 'object' || entry === null) {
    throw new SftError('ZIP_FAILED', `A ZIP entry must be an object with name, mtime and source; got ${String(entry)}.`);
  }
  if (!(entry.mtime instanceof Date) || Number.isNaN(entry.mtime.getTime())) {
    throw new SftError('ZIP_FAILED', `ZIP entry ${JSON.stringify(entry.name)} has no valid mtime; pass a valid Date.`);
  }
  if (typeof entry.source?.[Symbol.asyncIterator] !== 'function') {
    throw new SftError('ZIP_FAILED', `ZIP entry ${JSON.stringify(entry.name)} has no source; pass a Readable or an async iterable of bytes.`);
  }
}

function destroySource(source: unknown): void {
  if (source instanceof Readable) {
    source.destroy();
  }
}

/** Keeps an `SftError` as it is and wraps any other error as `ZIP_FAILED`. */
function toZipError(error: unknown, context: string): SftError {
  if (isSftError(error)) {
    return error;
  }
  return new SftError('ZIP_FAILED', `${context}: ${errorMessage(error)}`, { cause: error });
}

/** Errors the archive side raises are `SftError`s already, so anything else came from the output. */
function toOutputError(error: unknown): SftError {
  if (isSftError(error)) {
    return error;
  }
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new SftError('DISK_FULL', `Writing the ZIP failed because the disk is full (${code}). Free some space and try again.`, {
      cause: error,
    });
  }
  return new SftError('IO_FAILED', `Writing the ZIP failed: ${errorMessage(error)}`, { cause: error });
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
