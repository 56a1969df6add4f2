/**
 * Sender accounts of a receiver: usernames with scrypt password hashes in `accounts.json`.
 *
 * Each account has its own random salt and stores the scrypt parameters it was hashed
 * with, so the defaults can grow without breaking existing accounts. The password itself
 * is never stored or logged. The file is read again on every call, so accounts added by
 * `sft account add` take effect in a running receiver without a restart.
 */

import { randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { SftError } from '../errors';
import { PRIVATE_DIRECTORY_MODE, readBoundedFile, writeFileAtomic } from './atomic-file';

/** Name of the accounts file inside the store folder. */
export const ACCOUNTS_FILE_NAME = 'accounts.json';

/** Largest accounts file read, in bytes (about 40,000 accounts). */
export const MAX_ACCOUNTS_FILE_BYTES = 16 * 1024 * 1024;

export const MAX_USERNAME_LENGTH = 64;

export const MAX_PASSWORD_LENGTH = 1024;

/** Usernames: a letter or digit, then letters, digits, `.`, `_`, `-` and `@`. */
const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]*$/;

/** Parameters of scrypt (RFC 7914). Memory use is about 128 × N × r bytes. */
export interface ScryptParams {
  N: number;
  r: number;
  p: number;
  keyLength: number;
}

/**
 * Default cost: N = 2^15, r = 8, p = 1 uses 32 MiB and takes roughly 0.1 s per hash,
 * the interactive-login setting recommended by OWASP's password storage guidance.
 */
export const DEFAULT_SCRYPT_PARAMS: Readonly<ScryptParams> = { N: 2 ** 15, r: 8, p: 1, keyLength: 32 };

// Bounds for parameters read from the file, so a damaged or hostile file cannot make
// verification allocate gigabytes or take minutes.
const MIN_LOG2_N = 10;
const MAX_LOG2_N = 20;
const MAX_R = 32;
const MAX_P = 16;
const MIN_KEY_LENGTH = 16;
const MAX_KEY_LENGTH = 64;
const SALT_BYTES = 16;

export interface AccountSummary {
  username: string;
  createdAt: string;
}

interface AccountRecord {
  username: string;
  scrypt: ScryptParams;
  salt: string;
  hash: string;
  createdAt: string;
}

interface AccountsFile {
  version: 1;
  accounts: AccountRecord[];
}

export interface AccountsOptions {
  /** scrypt parameters for new accounts and for the stand-in hash of unknown users. */
  scrypt?: Partial<ScryptParams>;
}

/** The accounts of one store folder. */
export class Accounts {
  private readonly file: string;
  private readonly params: ScryptParams;
  private readonly dummySalt = randomBytes(SALT_BYTES);
  private writeQueue: Promise<unknown> = Promise.resolve();

  private constructor(storeDir: string, params: ScryptParams) {
    this.file = path.join(storeDir, ACCOUNTS_FILE_NAME);
    this.params = params;
  }

  /**
   * Opens the accounts of `storeDir`, creating the folder (mode 0700) if needed.
   * Throws `USAGE` for scrypt parameters outside the accepted bounds.
   */
  static async open(storeDir: string, options: AccountsOptions = {}): Promise<Accounts> {
    const params = { ...DEFAULT_SCRYPT_PARAMS, ...options.scrypt };
    const problem = describeInvalidParams(params);
    if (problem !== undefined) {
      throw new SftError('USAGE', `Invalid scrypt parameters: ${problem}.`);
    }

    await fs.mkdir(storeDir, { recursive: true, mode: PRIVATE_DIRECTORY_MODE });
    const accounts = new Accounts(storeDir, params);
    await accounts.readFile();
    return accounts;
  }

  /** Adds an account. Throws `USAGE` for an invalid username or password, `ACCOUNT_EXISTS` for a taken username. */
  async add(username: string, password: string): Promise<void> {
    validateUsername(username);
    validatePassword(password);

    const salt = randomBytes(SALT_BYTES);
    const hash = await deriveKey(password, salt, this.params);

    await this.modify((file) => {
      if (file.accounts.some((account) => account.username === username)) {
        throw new SftError('ACCOUNT_EXISTS', `Account "${username}" already exists. Remove it first to set a new password.`);
      }
      file.accounts.push({
        username,
        scrypt: { ...this.params },
        salt: salt.toString('base64'),
        hash: hash.toString('base64'),
        createdAt: new Date().toISOString(),
      });
    });
  }

  /** Removes an account. Throws `ACCOUNT_NOT_FOUND` when there is none with that username. */
  async remove(username: string): Promise<void> {
    await this.modify((file) => {
      const index = file.accounts.findIndex((account) => account.username === username);
      if (index === -1) {
        throw new SftError('ACCOUNT_NOT_FOUND', `Account "${username}" not found. Run "sft account list" to see the accounts.`);
      }
      file.accounts.splice(index, 1);
    });
  }

  /** Lists the accounts, sorted by username. */
  async list(): Promise<AccountSummary[]> {
    const file = await this.readFile();
    const summaries = file.accounts.map((account) => ({ username: account.username, createdAt: account.createdAt }));
    // Usernames are ASCII and unique, so code unit order is enough.
    return summaries.sort((a, b) => (a.username < b.username ? -1 : 1));
  }

  /**
   * Checks a password. Returns false for a wrong password, an unknown or invalid username
   * and an invalid password, and never throws for those. Throws `STORE_CORRUPT` when the
   * accounts file is damaged.
   *
   * An unknown user costs one scrypt run with the default parameters against a random
   * salt, and the hashes are compared with `timingSafeEqual`, so the time taken does not
   * show whether the username exists. Accounts hashed with other parameters than the
   * current defaults take their own time.
   */
  async verify(username: string, password: string): Promise<boolean> {
    const file = await this.readFile();
    const account = typeof username === 'string' ? file.accounts.find((candidate) => candidate.username === username) : undefined;
    const passwordUsable = isValidPassword(password);

    if (account === undefined || !passwordUsable) {
      const standIn = await deriveKey(passwordUsable ? password : '', this.dummySalt, this.params);
      timingSafeEqual(standIn, Buffer.alloc(standIn.length));
      return false;
    }

    const expected = Buffer.from(account.hash, 'base64');
    const actual = await deriveKey(password, Buffer.from(account.salt, 'base64'), account.scrypt);
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  }

  private async modify(change: (file: AccountsFile) => void): Promise<void> {
    // In-process changes are serialized. NOTE: two processes changing the file at the same
    // moment can lose one change; the receiver itself only reads the file.
    const step = this.writeQueue.then(async () => {
      const file = await this.readFile();
      change(file);
      await writeFileAtomic(this.file, JSON.stringify(file, null, 2) + '\n');
    });
    this.writeQueue = step.catch(() => undefined);
    await step;
  }

  private async readFile(): Promise<AccountsFile> {
    const text = await readBoundedFile(this.file, MAX_ACCOUNTS_FILE_BYTES);
    if (text === undefined) {
      return { version: 1, accounts: [] };
    }
    return parseAccountsFile(text, this.file);
  }
}

/** Throws `USAGE` unless `username` has 1 to 64 characters from `A-Z a-z 0-9 . _ - @` and starts with a letter or digit. */
export function validateUsername(username: string): void {
  if (!isValidUsername(username)) {
    throw new SftError(
      'USAGE',
      `Invalid username: use 1 to ${MAX_USERNAME_LENGTH} characters from A-Z, a-z, 0-9, ".", "_", "-" and "@", starting with a letter or digit.`,
    );
  }
}

/** Throws `USAGE` unless `password` has 1 to 1024 characters. */
export function validatePassword(password: string): void {
  if (!isValidPassword(password)) {
    throw new SftError('USAGE', `Invalid password: use 1 to ${MAX_PASSWORD_LENGTH} characters.`);
  }
}

function isValidUsername(username: unknown): username is string {
  return typeof username === 'string' && username.length <= MAX_USERNAME_LENGTH && USERNAME_PATTERN.test(username);
}

function isValidPassword(password: unknown): password is string {
  return typeof password === 'string' && password.length >= 1 && password.length <= MAX_PASSWORD_LENGTH;
}

function deriveKey(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  // The same password typed with composed or decomposed accents must match.
  const secret = Buffer.from(password.normalize('NFC'), 'utf8');
  const maxmem = 256 * params.N * params.r * params.p;

  return new Promise((resolve, reject) => {
    scryptCallback(secret, salt, params.keyLength, { N: params.N, r: params.r, p: params.p, maxmem }, (error, key) => {
      if (error) {
        reject(new SftError('IO_FAILED', `scrypt failed: ${error.message}`, { cause: error }));
      } else {
        resolve(key);
      }
    });
  });
}

function describeInvalidParams(params: ScryptParams): string | undefined {
  const log2N = Math.log2(params.N);
  if (!Number.isInteger(log2N) || log2N < MIN_LOG2_N || log2N > MAX_LOG2_N) {
    return `N must be a power of 2 from 2^${MIN_LOG2_N} to 2^${MAX_LOG2_N}, got ${params.N}`;
  }
  if (!Number.isInteger(params.r) || params.r < 1 || params.r > MAX_R) {
    return `r must be an integer from 1 to ${MAX_R}, got ${params.r}`;
  }
  if (!Number.isInteger(params.p) || params.p < 1 || params.p > MAX_P) {
    return `p must be an integer from 1 to ${MAX_P}, got ${params.p}`;
  }
  if (!Number.isInteger(params.keyLength) || params.keyLength < MIN_KEY_LENGTH || params.keyLength > MAX_KEY_LENGTH) {
    return `keyLength must be an integer from ${MIN_KEY_LENGTH} to ${MAX_KEY_LENGTH}, got ${params.keyLength}`;
  }
  return undefined;
}

function parseAccountsFile(text: string, file: string): AccountsFile {
  const damaged = (reason: string): SftError =>
    new SftError('STORE_CORRUPT', `Accounts file ${file} is damaged: ${reason}. Restore it from a backup or remove it and add the accounts again.`);

  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw damaged('it is not valid JSON');
  }

  if (!isObject(data) || data.version !== 1 || !Array.isArray(data.accounts)) {
    throw damaged('expected {"version": 1, "accounts": [...]}');
  }

  const seen = new Set<string>();
  const accounts: AccountRecord[] = [];
  for (const [index, item] of data.accounts.entries()) {
    const record = parseAccountRecord(item);
    if (typeof record === 'string') {
      throw damaged(`account ${index}: ${record}`);
    }
    if (seen.has(record.username)) {
      throw damaged(`account "${record.username}" appears twice`);
    }
    seen.add(record.username);
    accounts.push(record);
  }
  return { version: 1, accounts };
}

/** Returns the record, or a string saying what is wrong with it. */
function parseAccountRecord(item: unknown): AccountRecord | string {
  if (!isObject(item)) {
    return 'not an object';
  }
  if (!isValidUsername(item.username)) {
    return 'invalid username';
  }
  if (!isObject(item.scrypt)) {
    return 'missing scrypt parameters';
  }
  const params = { N: item.scrypt.N, r: item.scrypt.r, p: item.scrypt.p, keyLength: item.scrypt.keyLength } as ScryptParams;
  const problem = describeInvalidParams(params);
  if (problem !== undefined) {
    return problem;
  }
  if (typeof item.salt !== 'string' || Buffer.from(item.salt, 'base64').length < SALT_BYTES) {
    return 'invalid salt';
  }
  if (typeof item.hash !== 'string' || Buffer.from(item.hash, 'base64').length !== params.keyLength) {
    return 'invalid hash';
  }
  if (typeof item.createdAt !== 'string' || Number.isNaN(Date.parse(item.createdAt))) {
    return 'invalid createdAt';
  }
  return { username: item.username, scrypt: params, salt: item.salt, hash: item.hash, createdAt: item.createdAt };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
