/**
 * A stored file's entry, its on-disk forms (the sidecar beside each envelope and the
 * index of all entries), and the checks applied when they are read back.
 */

import { MAX_RAW_PATH_LENGTH, MAX_SEGMENT_BYTES } from './names';

/** One received file. All names are already safe (see `names.ts`). */
export interface StoreEntry {
  /** 32 random hex digits; also the envelope's file name. */
  id: string;
  /** Id the sender gave the transfer; used to resume it and to recognize a repeated finish. */
  transferId: string;
  senderUsername: string;
  remoteAddress: string;
  /** Safe base name of the file, for showing and as the default name on export. */
  displayName: string;
  /** Safe path inside the folder the sender sent, segments joined by `/`; `''` for a lone file. */
  relativePath: string;
  /** Size of the stored envelope in bytes. */
  envelopeSize: number;
  /** Size of the original file in bytes, as the sender declared it. */
  plaintextSize: number;
  /** Time the upload finished, ISO 8601 in UTC. */
  receivedAt: string;
  /** SHA-256 of the envelope, lowercase hex. */
  sha256: string;
}

/** Largest sidecar read, in bytes. */
export const MAX_SIDECAR_BYTES = 64 * 1024;

/** Largest index.json read, in bytes (about 400,000 entries). */
export const MAX_INDEX_FILE_BYTES = 256 * 1024 * 1024;

/** Transfer ids: 1 to 128 characters of letters, digits and `._:+/=-` (so UUIDs, hex and base64 fit). */
export const TRANSFER_ID_PATTERN = /^[A-Za-z0-9._:+/=-]{1,128}$/;

export const ENTRY_ID_PATTERN = /^[0-9a-f]{32}$/;

export const SHA256_HEX_PATTERN = /^[0-9a-f]{64}$/;

/** Longest remote address kept, in characters (an IPv6 address with a zone id fits). */
export const MAX_REMOTE_ADDRESS_LENGTH = 100;

const MAX_USERNAME_LENGTH = 64;

/** Returns the JSON text of a sidecar for `entry`. */
export function formatSidecar(entry: StoreEntry): string {
  return JSON.stringify({ version: 1, entry }, null, 2) + '\n';
}

/** Returns the entry in a sidecar's JSON text, or a string saying what is wrong with it. */
export function parseSidecar(text: string): StoreEntry | string {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return 'it is not valid JSON';
  }

  if (!isObject(data) || data.version !== 1) {
    return 'expected {"version": 1, "entry": {...}}';
  }
  return parseEntry(data.entry);
}

/** Returns the JSON text of the index for `entries`. */
export function formatIndex(entries: Iterable<StoreEntry>): string {
  return JSON.stringify({ version: 1, entries: [...entries] }) + '\n';
}

/** Returns the entries in the index's JSON text, or a string saying what is wrong with it. */
export function parseIndex(text: string): StoreEntry[] | string {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return 'it is not valid JSON';
  }

  if (!isObject(data) || data.version !== 1 || !Array.isArray(data.entries)) {
    return 'expected {"version": 1, "entries": [...]}';
  }

  const entries: StoreEntry[] = [];
  const ids = new Set<string>();
  for (const [position, item] of data.entries.entries()) {
    const entry = parseEntry(item);
    if (typeof entry === 'string') {
      return `entry ${position}: ${entry}`;
    }
    if (ids.has(entry.id)) {
      return `entry ${position}: id ${entry.id} appears twice`;
    }
    ids.add(entry.id);
    entries.push(entry);
  }
  return entries;
}

/** Returns the entry, or a string saying which field is wrong. */
export function parseEntry(item: unknown): StoreEntry | string {
  if (!isObject(item)) {
    return 'not an object';
  }

  if (typeof item.id !== 'string' || !ENTRY_ID_PATTERN.test(item.id)) {
    return 'invalid id';
  }
  if (typeof item.transferId !== 'string' || !TRANSFER_ID_PATTERN.test(item.transferId)) {
    return 'invalid transferId';
  }
  if (!isBoundedString(item.senderUsername, 1, MAX_USERNAME_LENGTH)) {
    return 'invalid senderUsername';
  }
  if (!isBoundedString(item.remoteAddress, 0, MAX_REMOTE_ADDRESS_LENGTH)) {
    return 'invalid remoteAddress';
  }
  if (!isBoundedString(item.displayName, 1, MAX_SEGMENT_BYTES)) {
    return 'invalid displayName';
  }
  if (!isBoundedString(item.relativePath, 0, MAX_RAW_PATH_LENGTH * 2)) {
    return 'invalid relativePath';
  }
  if (!isSize(item.envelopeSize)) {
    return 'invalid envelopeSize';
  }
  if (!isSize(item.plaintextSize)) {
    return 'invalid plaintextSize';
  }
  if (typeof item.receivedAt !== 'string' || Number.isNaN(Date.parse(item.receivedAt))) {
    return 'invalid receivedAt';
  }
  if (typeof item.sha256 !== 'string' || !SHA256_HEX_PATTERN.test(item.sha256)) {
    return 'invalid sha256';
  }

  return {
    id: item.id,
    transferId: item.transferId,
    senderUsername: item.senderUsername,
    remoteAddress: item.remoteAddress,
    displayName: item.displayName,
    relativePath: item.relativePath,
    envelopeSize: item.envelopeSize,
    plaintextSize: item.plaintextSize,
    receivedAt: item.receivedAt,
    sha256: item.sha256,
  };
}

/** Returns true for a whole number of bytes that JavaScript represents exactly. */
export function isSize(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isBoundedString(value: unknown, minLength: number, maxLength: number): value is string {
  return typeof value === 'string' && value.length >= minLength && value.length <= maxLength;
}
