/**
 * Safe names for display names and relative paths that arrive from the network.
 *
 * A sender controls these strings, so they are treated as hostile: path traversal and
 * absolute paths are rejected, and everything a file system on Windows, macOS or Linux
 * cannot store, or a terminal could misinterpret, is removed or mapped to a safe form.
 * The store never uses these names as file names on disk (it uses random ids), but they
 * are shown to users, used as default names on export, and kept in the index.
 */

import { SftError } from '../errors';

/** Maximum length of one segment in bytes of UTF-8, as on ext4, APFS and NTFS (255 UTF-16 units there). */
export const MAX_SEGMENT_BYTES = 255;

/** Maximum length of a raw name or path accepted from the network, in UTF-16 code units. */
export const MAX_RAW_PATH_LENGTH = 4096;

/** Maximum number of segments in a relative path. */
export const MAX_PATH_SEGMENTS = 64;

/** Name used when nothing safe remains of a segment. */
export const PLACEHOLDER_NAME = 'unnamed';

/** Longest extension (with its dot) kept when a segment is shortened, in bytes of UTF-8. */
const MAX_KEPT_EXTENSION_BYTES = 32;

// C0 controls, DEL and C1 controls.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/g;

// Bidi embedding, override and isolate characters (U+202A-U+202E, U+2066-U+2069) and the
// invisible direction marks (U+200E, U+200F, U+061C): they can make "exe.txt" read as "txt.exe".
const BIDI_CHARACTERS = /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/g;

// A high surrogate not followed by a low one, or a low surrogate not preceded by a high one.
const LONE_SURROGATES = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

// Characters that Windows rejects in file names (macOS Finder rejects ':' too).
const WINDOWS_RESERVED_CHARACTERS = /[<>:"|?*]/g;

const SEPARATORS = /[/\\]/;

// Device names that Windows reserves with any extension and in any case. The superscript
// digits are reserved as well, because Windows reads them as the digits 1, 2 and 3.
const WINDOWS_RESERVED_NAMES = /^(con|prn|aux|nul|conin\$|conout\$|com[0-9\u00b9\u00b2\u00b3]|lpt[0-9\u00b9\u00b2\u00b3])$/i;

const graphemeSegmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * Makes one untrusted path segment safe to store and show.
 *
 * Separators inside the segment become `_`. Throws `NAME_INVALID` for `..` and for input
 * longer than `MAX_RAW_PATH_LENGTH`. The result is never empty, `.` or `..`, is NFC, and has
 * at most `MAX_SEGMENT_BYTES` bytes of UTF-8.
 *
 * @example safeSegment('CON.txt') === '_CON.txt'
 */
export function safeSegment(name: string): string {
  checkRawLength(name);

  const cleaned = removeInvisibleCharacters(name);
  if (cleaned === '..') {
    throw invalidName(name, 'a ".." segment would leave the folder');
  }

  return finishSegment(cleaned.replace(/[/\\]/g, '_'));
}

/**
 * Splits an untrusted relative path on `/` and `\` into safe segments.
 *
 * Empty and `.` segments are dropped, so `''` returns `[]`. Throws `NAME_INVALID` for `..`
 * segments, for absolute paths (`/x`, `\x`, `C:\x`, `C:x`, `\\server\share`), for more than
 * `MAX_PATH_SEGMENTS` segments and for input longer than `MAX_RAW_PATH_LENGTH`.
 *
 * @example safeRelativePath('photos\\2024/a?.jpg') → ['photos', '2024', 'a_.jpg']
 */
export function safeRelativePath(path: string): string[] {
  checkRawLength(path);

  const cleaned = removeInvisibleCharacters(path);
  rejectAbsolute(path, cleaned);

  const segments: string[] = [];
  for (const segment of cleaned.split(SEPARATORS)) {
    if (segment === '' || segment === '.') {
      continue;
    }
    if (segment === '..') {
      throw invalidName(path, 'a ".." segment would leave the folder');
    }
    segments.push(finishSegment(segment));
  }

  if (segments.length > MAX_PATH_SEGMENTS) {
    throw invalidName(path, `it has ${segments.length} segments, more than the maximum of ${MAX_PATH_SEGMENTS}`);
  }
  return segments;
}

/**
 * Returns the safe form of the last segment of an untrusted name, for showing it.
 *
 * Rejects what `safeRelativePath` rejects, so `../x` and `/etc/passwd` are errors rather
 * than quietly shown as `x` and `passwd`. An empty name returns `PLACEHOLDER_NAME`.
 *
 * @example displayName('report.pdf\u202e') === 'report.pdf'
 */
export function displayName(name: string): string {
  const segments = safeRelativePath(name);
  if (segments.length === 0) {
    return PLACEHOLDER_NAME;
  }
  return segments[segments.length - 1];
}

/**
 * Escapes control, bidi and lone surrogate characters of untrusted text as `\u{..}` and
 * cuts it to `maxLength` characters, so that it can go into a log line as one readable line.
 */
export function escapeForLog(value: string, maxLength = 200): string {
  const cut = value.length > maxLength ? value.slice(0, maxLength) + '…' : value;
  const escapeOne = (character: string): string => `\\u{${character.charCodeAt(0).toString(16)}}`;

  return cut
    .replace(/\\/g, '\\\\')
    .replace(CONTROL_CHARACTERS, escapeOne)
    .replace(BIDI_CHARACTERS, escapeOne)
    .replace(LONE_SURROGATES, escapeOne);
}

function checkRawLength(value: string): void {
  if (typeof value !== 'string') {
    throw new SftError('NAME_INVALID', `Invalid name: expected a string, got ${typeof value}.`);
  }
  if (value.length > MAX_RAW_PATH_LENGTH) {
    throw new SftError(
      'NAME_INVALID',
      `Invalid name "${escapeForLog(value, 60)}": it has ${value.length} characters, more than the maximum of ${MAX_RAW_PATH_LENGTH}.`,
    );
  }
}

function invalidName(value: string, reason: string): SftError {
  return new SftError('NAME_INVALID', `Invalid name "${escapeForLog(value, 200)}": ${reason}. Names must be relative paths inside the sent folder.`);
}

function rejectAbsolute(raw: string, cleaned: string): void {
  if (/^[/\\]/.test(cleaned)) {
    const kind = /^[/\\]{2}/.test(cleaned) ? 'a UNC path' : 'an absolute path';
    throw invalidName(raw, `it is ${kind}`);
  }
  if (/^[a-zA-Z]:/.test(cleaned)) {
    throw invalidName(raw, 'it starts with a drive letter');
  }
}

function removeInvisibleCharacters(value: string): string {
  return value
    .replace(LONE_SURROGATES, '\ufffd')
    .replace(CONTROL_CHARACTERS, '')
    .replace(BIDI_CHARACTERS, '')
    .normalize('NFC');
}

/** Maps reserved characters and names, strips trailing dots and spaces, and shortens the segment. */
function finishSegment(segment: string): string {
  let result = stripTrailingDotsAndSpaces(segment.replace(WINDOWS_RESERVED_CHARACTERS, '_'));

  // Shortening can expose trailing spaces or a reserved stem, and the reserved-name prefix
  // adds a byte, so repeat until nothing changes. Each round shortens or adds the prefix
  // at most once, so this ends after a few rounds.
  for (;;) {
    if (result === '') {
      return PLACEHOLDER_NAME;
    }
    if (isWindowsReservedName(result)) {
      result = '_' + result;
    }
    if (Buffer.byteLength(result, 'utf8') <= MAX_SEGMENT_BYTES) {
      return result;
    }
    result = stripTrailingDotsAndSpaces(shortenSegment(result, MAX_SEGMENT_BYTES));
  }
}

function stripTrailingDotsAndSpaces(value: string): string {
  return value.replace(/[. ]+$/, '');
}

function isWindowsReservedName(segment: string): boolean {
  // Windows ignores everything from the first dot and trailing spaces before it: "NUL .tar.gz" is NUL.
  const stem = segment.split('.')[0].replace(/ +$/, '');
  return WINDOWS_RESERVED_NAMES.test(stem);
}

/**
 * Shortens `segment` to at most `maxBytes` bytes of UTF-8, keeping its extension and cutting
 * the stem between grapheme clusters, so no code point and no combining sequence is split.
 */
function shortenSegment(segment: string, maxBytes: number): string {
  const dot = segment.lastIndexOf('.');
  const extension = dot > 0 ? segment.slice(dot) : '';
  const keepExtension = extension !== '' && Buffer.byteLength(extension, 'utf8') <= MAX_KEPT_EXTENSION_BYTES;

  const stem = keepExtension ? segment.slice(0, dot) : segment;
  const suffix = keepExtension ? extension : '';
  const stemBudget = maxBytes - Buffer.byteLength(suffix, 'utf8');

  let kept = '';
  let keptBytes = 0;
  for (const { segment: grapheme } of graphemeSegmenter.segment(stem)) {
    const bytes = Buffer.byteLength(grapheme, 'utf8');
    if (keptBytes + bytes > stemBudget) {
      break;
    }
    kept += grapheme;
    keptBytes += bytes;
  }

  // A single grapheme cluster longer than the budget (a base letter with hundreds of
  // combining marks) is cut between code points instead.
  if (kept === '' && stem !== '') {
    for (const codePoint of stem) {
      const bytes = Buffer.byteLength(codePoint, 'utf8');
      if (keptBytes + bytes > stemBudget) {
        break;
      }
      kept += codePoint;
      keptBytes += bytes;
    }
  }

  return kept + suffix;
}
