/**
 * The files a sender sends: the paths given, with folders walked recursively.
 *
 * Symbolic links are never followed, neither given directly nor found inside a folder: they
 * are reported as skipped, so a link cannot pull files from outside the folder into a
 * transfer. Sockets, FIFOs and devices are skipped as well. Empty folders send nothing.
 */
import { promises as fs } from 'node:fs';
import type { Stats } from 'node:fs';
import * as path from 'node:path';
import { SftError } from '../errors';

/** One regular file to send. */
export interface SourceFile {
  /** Absolute path on this machine. */
  path: string;
  /** Path inside the sent folder, `/`-separated and starting with the folder's name; the base name for a lone file. */
  relativePath: string;
  /** Base name. */
  name: string;
  size: number;
  mtimeMs: number;
}

export interface SkippedPath {
  path: string;
  reason: string;
}

/**
 * Lists the regular files under `paths`, in the order given and sorted by name inside
 * folders. Throws FILE_NOT_FOUND for a path that does not exist and IO_FAILED when a
 * folder cannot be read.
 */
export async function collectFiles(paths: readonly string[]): Promise<{ files: SourceFile[]; skipped: SkippedPath[] }> {
  const files: SourceFile[] = [];
  const skipped: SkippedPath[] = [];
  for (const given of paths) {
    const absolute = path.resolve(given);
    const stats = await lstat(absolute, given);
    const name = path.basename(absolute);
    if (stats.isDirectory()) {
      await walkFolder(absolute, name, files, skipped);
    } else {
      addEntry(absolute, name, stats, files, skipped);
    }
  }
  return { files, skipped };
}

async function walkFolder(folder: string, relative: string, files: SourceFile[], skipped: SkippedPath[]): Promise<void> {
  let rawNames: Buffer[];
  try {
    rawNames = await fs.readdir(folder, { encoding: 'buffer' });
  } catch (error) {
    throw new SftError('IO_FAILED', `Cannot read folder ${folder}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}. Check its permissions.`, { cause: error });
  }
  const names: string[] = [];
  for (const raw of rawNames) {
    const name = raw.toString('utf8');
    // A name that is not UTF-8 decodes to another name, which no file has, so it cannot be opened.
    if (Buffer.from(name, 'utf8').equals(raw)) {
      names.push(name);
    } else {
      skipped.push({ path: path.join(folder, name), reason: 'its name is not valid UTF-8; rename it to send it' });
    }
  }
  names.sort();
  for (const name of names) {
    const absolute = path.join(folder, name);
    const childRelative = relative === '' ? name : `${relative}/${name}`;
    const stats = await lstat(absolute, absolute);
    if (stats.isDirectory()) {
      await walkFolder(absolute, childRelative, files, skipped);
    } else {
      addEntry(absolute, childRelative, stats, files, skipped);
    }
  }
}

function addEntry(absolute: string, relativePath: string, stats: Stats, files: SourceFile[], skipped: SkippedPath[]): void {
  if (stats.isSymbolicLink()) {
    skipped.push({ path: absolute, reason: 'symbolic links are not followed' });
    return;
  }
  if (!stats.isFile()) {
    skipped.push({ path: absolute, reason: 'not a regular file' });
    return;
  }
  files.push({ path: absolute, relativePath, name: path.basename(absolute), size: stats.size, mtimeMs: stats.mtimeMs });
}

async function lstat(absolute: string, shown: string): Promise<Stats> {
  try {
    return await fs.lstat(absolute);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new SftError('FILE_NOT_FOUND', `${shown} not found. Check the path.`);
    }
    throw new SftError('IO_FAILED', `Cannot read ${shown}: ${code ?? (error as Error).message}.`, { cause: error });
  }
}
