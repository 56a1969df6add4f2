/**
 * File-to-file encryption and decryption, with standard input and output as `-`.
 *
 * Outputs go to a temporary file beside the target, renamed into place only after the
 * last byte is written and flushed. On any failure the target path is left untouched.
 */
import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { OutputOptions, writeOutputAtomically } from '../atomic-output';
import { SftError } from '../errors';
import { EnvelopeSeam, EnvelopeWriter, FileMetadata, openEnvelope } from './envelope';
import { Identities, Recipient } from './stanza';

/** Read size for input files: large reads mean fewer system calls and larger output writes. */
export const READ_CHUNK_BYTES = 1024 * 1024;

export const STDIO = '-';

/** Wraps a file-system error in an SftError that names the file and the next step. */
export function ioError(error: unknown, file: string, action: string): SftError {
  if (error instanceof SftError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new SftError('FILE_NOT_FOUND', `${file} not found. Check the path.`, { cause: error });
  if (code === 'EISDIR') return new SftError('USAGE', `${file} is a folder, not a file.`, { cause: error });
  if (code === 'EACCES' || code === 'EPERM') {
    return new SftError('IO_FAILED', `Permission denied to ${action} ${file}. Check the file's permissions.`, { cause: error });
  }
  if (code === 'ENOSPC') return new SftError('DISK_FULL', `No space left to ${action} ${file}. Free some disk space and retry.`, { cause: error });
  return new SftError('IO_FAILED', `Failed to ${action} ${file}: ${(error as Error).message}`, { cause: error });
}

/**
 * Runs `write` against a temporary file next to `target`, then flushes it and moves it onto
 * `target` (see atomic-output.ts). The temporary file is removed if anything fails.
 */
export async function writeFileAtomically(target: string, write: (output: Writable) => Promise<void>, options: OutputOptions = {}): Promise<void> {
  try {
    await writeOutputAtomically(target, write, options);
  } catch (error) {
    throw ioError(error, target, 'write');
  }
}

async function inputMetadata(input: string): Promise<FileMetadata> {
  if (input === STDIO) return { name: 'stdin', size: null, mtimeMs: null };
  let stat;
  try {
    stat = await fs.stat(input);
  } catch (error) {
    throw ioError(error, input, 'read');
  }
  if (!stat.isFile()) {
    throw new SftError('USAGE', `${input} is not a regular file. Give a file, or - for standard input.`);
  }
  return { name: path.basename(input), size: stat.size, mtimeMs: Math.trunc(stat.mtimeMs) };
}

function openInput(input: string, stdin: Readable): Readable {
  return input === STDIO ? stdin : createReadStream(input, { highWaterMark: READ_CHUNK_BYTES });
}

export interface FileOptions {
  stdin?: Readable;
  stdout?: Writable;
  seam?: EnvelopeSeam;
  /** False: an existing output file is an error (FILE_EXISTS) instead of being replaced. */
  replace?: boolean;
}

/** Encrypts `input` (a path or `-`) to `output` (a path or `-`) for `recipients`. */
export async function encryptFile(input: string, output: string, recipients: Recipient[], options: FileOptions = {}): Promise<FileMetadata> {
  const metadata = await inputMetadata(input);
  const writer = await EnvelopeWriter.create(recipients, metadata, options.seam);
  const run = async (sink: Writable): Promise<void> => {
    sink.write(writer.header);
    try {
      await pipeline(openInput(input, options.stdin ?? process.stdin), writer.createPayloadStream(), sink, { end: output !== STDIO });
    } catch (error) {
      throw ioError(error, input, 'read');
    }
  };
  if (output === STDIO) {
    await run(options.stdout ?? process.stdout);
  } else {
    await writeFileAtomically(output, run, { replace: options.replace });
  }
  return metadata;
}

/**
 * Decrypts the envelope `input` to `output`. Wrong secrets fail before any output is
 * created. Decrypting to `-` streams plaintext chunk by chunk as each authenticates, so a
 * failure can come after some output was written, as with age.
 */
export async function decryptFile(input: string, output: string, identities: Identities, options: FileOptions = {}): Promise<FileMetadata> {
  if (input !== STDIO) {
    const stat = await fs.stat(input).catch((error: unknown) => {
      throw ioError(error, input, 'read');
    });
    if (!stat.isFile()) {
      throw new SftError('USAGE', `${input} is not a regular file. Give an envelope file, or - for standard input.`);
    }
  }
  const opened = await openEnvelope(openInput(input, options.stdin ?? process.stdin), identities);
  if (output === STDIO) {
    await pipeline(opened.payload, options.stdout ?? process.stdout, { end: false });
  } else {
    await writeFileAtomically(output, (sink) => pipeline(opened.payload, sink), { replace: options.replace });
  }
  return opened.metadata;
}
