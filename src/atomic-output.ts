/**
 * Writes a user's output file (a decrypted file, an envelope, a ZIP) so that it appears only
 * when complete. The bytes go to a temporary file beside the target and are flushed with
 * fsync. Then the file moves into place and its folder is flushed. A crash or power loss
 * thus leaves the old target or the new one, never part of one.
 *
 * The receiver's store has its own writer for its small files (storage/atomic-file.ts),
 * because the store's recovery removes temporary files by their name.
 */
import { randomBytes } from 'node:crypto';
import { close, createWriteStream, fsync, open } from 'node:fs';
import { link, lstat, rename, rm, unlink } from 'node:fs/promises';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { SftError } from './errors';

// A numeric descriptor, because FileHandle.close() waits for every stream on the handle to
// close, and a stream that closes the file itself would close it before fsync.
const openAsync = promisify(open);
const fsyncAsync = promisify(fsync);
const closeAsync = promisify(close);

export interface OutputOptions {
  /** False: fail with FILE_EXISTS rather than replace a file at the target. Default true. */
  replace?: boolean;
  /** Permissions of the new file. Default 0600. */
  mode?: number;
}

/** Returns the error for an output path that is already taken. */
export function outputExists(target: string): SftError {
  return new SftError('FILE_EXISTS', `${target} already exists. Choose another output path, or give --force to replace it.`);
}

/**
 * Runs `write` on a stream to a temporary file beside `target`, then flushes the file and
 * moves it to `target`. On any failure the temporary file is removed and `target` is left as
 * it was. Errors from `write` and from the file system pass through unchanged, so the caller
 * can name them.
 */
export async function writeOutputAtomically<T>(target: string, write: (output: Writable) => Promise<T>, options: OutputOptions = {}): Promise<T> {
  const folder = path.dirname(path.resolve(target));
  const temporary = path.join(folder, `.${path.basename(target)}.${randomBytes(6).toString('hex')}.partial`);
  let fd: number | undefined;
  try {
    fd = await openAsync(temporary, 'wx', options.mode ?? 0o600);
    const result = await write(createWriteStream('', { fd, autoClose: false, highWaterMark: 1024 * 1024 }));
    await fsyncAsync(fd);
    const closing = fd;
    fd = undefined;
    await closeAsync(closing);

    await (options.replace === false ? moveWithoutReplacing(temporary, target) : rename(temporary, target));
    await syncFolder(folder);
    return result;
  } catch (error) {
    if (fd !== undefined) {
      await closeAsync(fd).catch(() => undefined);
    }
    await rm(temporary, { force: true }).catch(() => undefined);
    throw error;
  }
}

/**
 * Moves `from` to `to` unless `to` exists. A hard link fails on an existing name in one step.
 * File systems without hard links get a check and a rename, which a file created in between
 * can still race.
 */
async function moveWithoutReplacing(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      throw outputExists(to);
    }
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV') {
      throw error;
    }
    if (await exists(to)) {
      throw outputExists(to);
    }
    await rename(from, to);
    return;
  }
  await unlink(from);
}

/** Returns true when something exists at `file`, a broken symbolic link included. */
async function exists(file: string): Promise<boolean> {
  try {
    await lstat(file);
    return true;
  } catch {
    return false;
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
