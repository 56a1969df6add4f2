/**
 * Crash-safe file writes and bounded reads for the store's small JSON files.
 *
 * A file is replaced atomically: the new content goes to a temporary file in the same
 * folder, is flushed with fsync, renamed over the target, and the folder is flushed so the
 * rename itself survives a power loss. A reader therefore sees the old or the new content,
 * never a mix. Temporary files end in `TEMP_SUFFIX` so that `Store.open` can remove the
 * ones a crash left behind.
 */

import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { SftError } from '../errors';

/** Suffix of every temporary file the store writes. */
export const TEMP_SUFFIX = '.tmp';

/** Mode of every file the store writes: readable by its owner only. */
export const PRIVATE_FILE_MODE = 0o600;

/** Mode of every folder the store creates. */
export const PRIVATE_DIRECTORY_MODE = 0o700;

/** Replaces `target` with `data` atomically (temporary file, fsync, rename, fsync of the folder). */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  const temporary = temporaryPathFor(target);

  try {
    await createFlushed(temporary, data);
    await fs.rename(temporary, target);
  } catch (error) {
    await fs.rm(temporary, { force: true }).catch(() => undefined);
    throw toStorageError(error, `write ${target}`);
  }

  await syncDirectory(path.dirname(target));
}

/**
 * Creates `target` with `data` and flushes it with fsync, without a rename. Use it only for a
 * new file that nothing reads before a later, separately flushed step marks it complete, so
 * a crash can leave it torn only while it is still unused.
 */
export async function writeNewFileDurably(target: string, data: string | Uint8Array): Promise<void> {
  try {
    await createFlushed(target, data);
  } catch (error) {
    await fs.rm(target, { force: true }).catch(() => undefined);
    throw toStorageError(error, `write ${target}`);
  }
}

/** Creates `file`, which must not exist yet, writes `data` and flushes it with fsync. */
async function createFlushed(file: string, data: string | Uint8Array): Promise<void> {
  const handle = await fs.open(file, 'wx', PRIVATE_FILE_MODE);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Returns a new temporary file name beside `target`. */
export function temporaryPathFor(target: string): string {
  return `${target}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`;
}

/**
 * Flushes a folder's entries (new, renamed and removed files) to disk.
 *
 * Windows cannot open a folder as a file; there, and on file systems that reject fsync on a
 * folder, the rename is left to the file system's own ordering.
 */
export async function syncDirectory(directory: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(directory, 'r');
    await handle.sync();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EACCES') {
      throw toStorageError(error, `flush folder ${directory}`);
    }
  } finally {
    await handle?.close();
  }
}

/**
 * Flushes one folder for many callers: a caller that asks while a flush runs waits for the
 * next one, which starts after it and serves every caller that asked meanwhile. Files stored
 * in a row thus share flushes, and every caller's rename is covered by the flush it awaits.
 */
export class FolderFlusher {
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(private readonly folder: string) {}

  flush(): Promise<void> {
    if (this.queued !== undefined) {
      return this.queued;
    }
    if (this.running === undefined) {
      return this.start();
    }
    const queued = this.running.catch(() => undefined).then(() => {
      this.queued = undefined;
      return this.start();
    });
    this.queued = queued;
    return queued;
  }

  private start(): Promise<void> {
    const running = syncDirectory(this.folder).finally(() => {
      if (this.running === running) {
        this.running = undefined;
      }
    });
    this.running = running;
    return running;
  }
}

/**
 * Reads a file of at most `maxBytes` bytes as UTF-8 text.
 *
 * Returns undefined when the file does not exist; throws `STORE_CORRUPT` when it is larger.
 */
export async function readBoundedFile(file: string, maxBytes: number): Promise<string | undefined> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return undefined;
    }
    throw toStorageError(error, `read ${file}`);
  }

  try {
    const { size } = await handle.stat();
    if (size > maxBytes) {
      throw new SftError('STORE_CORRUPT', `File ${file} has ${size} bytes, more than the maximum of ${maxBytes}; it is not a file the store wrote.`);
    }
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/** Returns true for errors that mean the disk or the user's quota is full. */
export function isDiskFullError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/**
 * Wraps a file system error in an `SftError`: `DISK_FULL` for a full disk or quota,
 * `IO_FAILED` otherwise. An `SftError` passes through unchanged.
 */
export function toStorageError(error: unknown, action: string): SftError {
  if (error instanceof SftError) {
    return error;
  }
  if (isDiskFullError(error)) {
    return new SftError('DISK_FULL', `Could not ${action}: the disk is full. Free some space and try again.`, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new SftError('IO_FAILED', `Could not ${action}: ${message}`, { cause: error });
}
