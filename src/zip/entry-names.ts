/**
 * Checks ZIP entry names. Callers make names safe for the file systems they care about. This
 * module rejects the names that would escape the extraction folder, collide with each other
 * or not survive encoding.
 */
import { SftError } from '../errors';
import { MAX_NAME_BYTES } from './records';

// C0 control characters, including NUL, and DEL.
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;
// In a `u` regular expression this matches only unpaired surrogates, which UTF-8 cannot encode.
const LONE_SURROGATE = /\p{Cs}/u;
const DRIVE_LETTER = /^[A-Za-z]:/;

/** Returns the UTF-8 bytes of `name`, or throws `ZIP_ENTRY_NAME_INVALID` with the reason. */
export function encodeEntryName(name: string): Buffer {
  if (typeof name !== 'string' || name.length === 0) {
    throw invalidName(name, 'it is empty');
  }
  if (CONTROL_CHARACTER.test(name)) {
    throw invalidName(name, 'it contains NUL or another control character');
  }
  if (LONE_SURROGATE.test(name)) {
    throw invalidName(name, 'it contains an unpaired UTF-16 surrogate, which UTF-8 cannot encode');
  }
  if (name.includes('\\')) {
    throw invalidName(name, 'it contains "\\", and ZIP separates folders with "/" only');
  }
  if (name.startsWith('/') || DRIVE_LETTER.test(name)) {
    throw invalidName(name, 'it is an absolute path');
  }

  for (const segment of name.split('/')) {
    if (segment === '..') {
      throw invalidName(name, 'it contains a ".." segment');
    }
    if (segment === '.' || segment === '') {
      throw invalidName(name, 'it contains an empty or "." segment, or ends with "/"');
    }
  }

  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length > MAX_NAME_BYTES) {
    throw invalidName(name, `it is ${bytes.length} bytes of UTF-8 and the limit is ${MAX_NAME_BYTES}`);
  }
  return bytes;
}

/**
 * Names already written to one archive. Rejects a repeated name and a name that is both a
 * file and a folder ("a" and "a/b"), since extraction could keep only one of them.
 */
export class EntryNameSet {
  private readonly files = new Set<string>();
  private readonly folders = new Set<string>();

  add(name: string): void {
    if (this.files.has(name)) {
      throw invalidName(name, 'an earlier entry has the same name');
    }
    if (this.folders.has(name)) {
      throw invalidName(name, 'an earlier entry uses it as a folder');
    }

    const segments = name.split('/');
    for (let i = 1; i < segments.length; i++) {
      const folder = segments.slice(0, i).join('/');
      if (this.files.has(folder)) {
        throw invalidName(name, `an earlier entry "${folder}" is a file, not a folder`);
      }
    }

    for (let i = 1; i < segments.length; i++) {
      this.folders.add(segments.slice(0, i).join('/'));
    }
    this.files.add(name);
  }
}

/** Maximum number of characters of a name that an error message quotes. */
const MAX_QUOTED_NAME_CHARACTERS = 200;

function invalidName(name: unknown, reason: string): SftError {
  let quoted = JSON.stringify(name) ?? String(name);
  if (quoted.length > MAX_QUOTED_NAME_CHARACTERS) {
    quoted = `${quoted.slice(0, MAX_QUOTED_NAME_CHARACTERS)}...`;
  }
  return new SftError(
    'ZIP_ENTRY_NAME_INVALID',
    `ZIP entry name ${quoted} is invalid because ${reason}. ` +
      'Pass a relative path with "/" between folders and no "." or ".." segments.',
  );
}
