/**
 * Command-line plumbing shared by every `sft` command: the streams a command uses,
 * option parsing with usage errors, and exit statuses.
 */
import { parseArgs, ParseArgsConfig } from 'node:util';
import { Readable, Writable } from 'node:stream';
import { lstat } from 'node:fs/promises';
import { outputExists } from '../atomic-output';
import { SftError } from '../errors';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** The process's streams and environment, injectable so tests can run commands in-process. */
export interface CliIo {
  stdin: Readable & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

export function processIo(): CliIo {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env };
}

/** One `sft` command: its usage text and its body, which returns an exit status. */
export interface Command {
  usage: string;
  run(argv: string[], io: CliIo): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parses `argv` strictly; unknown options and missing values become SftError('USAGE'). */
export function parseOptions<T extends Options>(argv: string[], options: T, usage: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0].replace(/\.+$/, '');
    const secretOption = /'(--(?:passphrase|password|zip-password|identity-passphrase))'/.exec(reason)?.[1];
    if (secretOption !== undefined) {
      throw new SftError('USAGE', `Unknown option ${secretOption}: secrets are never taken on the command line, where other users can read them. Use ${secretOption}-file F or a prompt.`);
    }
    const ambiguous = /^Option '(--[a-z-]+)' argument is ambiguous/.exec(reason)?.[1];
    if (ambiguous !== undefined) {
      throw new SftError('USAGE', `Invalid value for ${ambiguous}: it starts with "-". Negative numbers are not accepted; write ${ambiguous}=VALUE for a value that must start with "-".`);
    }
    throw new SftError('USAGE', `${reason}. Usage: ${usage}`);
  }
}

/** Throws a usage error unless exactly `count` positional arguments were given. */
export function expectPositionals(positionals: string[], count: number, what: string, usage: string): void {
  if (positionals.length !== count) {
    const got = positionals.length === 0 ? 'none' : positionals.map((p) => `"${p}"`).join(' ');
    throw new SftError('USAGE', `Expected ${what}, got ${got}. Usage: ${usage}`);
  }
}

export function writeLine(stream: Writable, line: string): void {
  stream.write(`${line}\n`);
}

/**
 * Fails with FILE_EXISTS when `output` is a path that exists and `force` is not set, before
 * any slow work (a key derivation, a decryption) is done. The final move into place checks
 * again, so a file created in between is not replaced either.
 */
export async function checkOutputFree(output: string, force: boolean): Promise<void> {
  if (output === '-') {
    return;
  }
  const stats = await lstat(output).catch(() => undefined);
  if (stats === undefined) {
    return;
  }
  // The output is written beside the target and moved over it, which must never replace a
  // device, a pipe or a folder.
  if (!stats.isFile()) {
    throw new SftError('USAGE', `${output} is not a regular file. Give a new file path, or -o - to write to standard output.`);
  }
  if (!force) {
    throw outputExists(output);
  }
}
