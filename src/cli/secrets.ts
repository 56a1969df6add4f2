/**
 * Reading secrets for the command line: from a file, an environment variable, or a
 * no-echo prompt on a terminal. Secrets are never taken from the command line itself,
 * where other users could read them in the process list.
 */
import { promises as fs } from 'node:fs';
import { SftError } from '../errors';
import { CliIo } from './io';

/** A secret file contains one line, so a larger file is the wrong one. */
export const MAX_SECRET_FILE_BYTES = 64 * 1024;

export interface SecretSource {
  /** Path from a `--*-file` option, or undefined. */
  file: string | undefined;
  /** Option name, for messages, e.g. `--passphrase-file`. */
  option: string;
  /** Environment variable to read when no file is given, e.g. `SFT_PASSPHRASE`. */
  env?: string;
  /** Prompt shown on a terminal when neither is given. */
  prompt: string;
  /** Ask twice on a terminal and compare, for secrets being set rather than used. */
  confirm?: boolean;
  /** Never prompt, for example when standard input carries data. */
  noPrompt?: boolean;
}

/** Reads the first line of a secret file, without its line ending. */
export async function readSecretFile(file: string, option: string): Promise<string> {
  let bytes: Buffer;
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile() || stat.size > MAX_SECRET_FILE_BYTES) {
      throw new SftError('USAGE', `${option} ${file} is not a small text file (at most ${MAX_SECRET_FILE_BYTES} bytes).`);
    }
    bytes = await fs.readFile(file);
  } catch (error) {
    if (error instanceof SftError) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new SftError('FILE_NOT_FOUND', `${option} ${file} not found. Check the path.`);
    }
    throw new SftError('IO_FAILED', `Cannot read ${option} ${file}: ${(error as Error).message}`);
  }
  const secret = bytes.toString('utf8').split(/\r?\n/, 1)[0];
  if (secret.length === 0) {
    throw new SftError('USAGE', `${option} ${file} is empty. Put the secret on its first line.`);
  }
  return secret;
}

/** Reads one line from the terminal with echo off. */
export function promptHidden(io: CliIo, prompt: string): Promise<string> {
  const { stdin, stderr } = io;
  return new Promise((resolve, reject) => {
    let typed = '';
    const finish = (error?: Error): void => {
      stdin.off('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      stderr.write('\n');
      if (error) reject(error);
      else resolve(typed);
    };
    const onData = (data: Buffer): void => {
      for (const char of data.toString('utf8')) {
        if (char === '\r' || char === '\n' || char === '\u0004') {
          finish();
          return;
        }
        if (char === '\u0003') {
          finish(new SftError('TRANSFER_CANCELLED', 'Cancelled at the prompt.'));
          return;
        }
        if (char === '\u007f' || char === '\b') {
          typed = typed.slice(0, -1);
        } else {
          typed += char;
        }
      }
    };
    stderr.write(prompt);
    stdin.setRawMode?.(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}

/**
 * Returns the secret from the file, else the environment variable, else a terminal prompt.
 * Returns undefined when none is available (no file, no variable, not a terminal).
 */
export async function readSecret(io: CliIo, source: SecretSource): Promise<string | undefined> {
  if (source.file !== undefined) return readSecretFile(source.file, source.option);
  const fromEnv = source.env ? io.env[source.env] : undefined;
  if (fromEnv !== undefined && fromEnv.length > 0) return fromEnv;
  if (source.noPrompt || !io.stdin.isTTY || !io.stderr.isTTY) return undefined;

  const first = await promptHidden(io, `${source.prompt}: `);
  if (first.length === 0) {
    throw new SftError('USAGE', `Empty input at the prompt "${source.prompt}". Type a non-empty secret.`);
  }
  if (source.confirm) {
    const second = await promptHidden(io, `${source.prompt} (again): `);
    if (second !== first) {
      throw new SftError('USAGE', 'The two entries differ. Run the command again and type the same secret twice.');
    }
  }
  return first;
}

/** Like readSecret, but a missing secret is a usage error that names the ways to provide it. */
export async function requireSecret(io: CliIo, source: SecretSource): Promise<string> {
  const secret = await readSecret(io, source);
  if (secret === undefined) {
    const env = source.env ? `, set ${source.env}` : '';
    throw new SftError('USAGE', `Missing secret: give ${source.option} FILE${env}, or run on a terminal to be prompted.`);
  }
  return secret;
}
