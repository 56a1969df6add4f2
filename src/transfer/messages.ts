/**
 * Control messages of the transfer protocol: types, encoding and checks on arrival.
 *
 * docs/PROTOCOL.md ("Messages") is the specification. Every message from the network is
 * parsed into a fresh object whose fields were each checked for type and range; unknown
 * fields are dropped. Bad input raises an SftError with `PROTOCOL_VIOLATION`.
 */
import { SftError, SftErrorCode } from '../errors';
import { MAX_CONTROL_MESSAGE_BYTES, encodeControlFrame } from './frame';

export const PROTOCOL_VERSION = 1;
export const SUPPORTED_VERSIONS: readonly number[] = [PROTOCOL_VERSION];

export const MAX_VERSIONS = 16;
export const MAX_SOFTWARE_CHARS = 64;
export const MAX_USERNAME_CHARS = 256;
export const MAX_PASSWORD_CHARS = 1024;
export const MAX_NAME_CHARS = 1024;
export const MAX_PATH_CHARS = 4096;
export const MIN_HEADER_SIZE = 100;
export const MAX_HEADER_SIZE = 64 * 1024;
export const MAX_PUBLIC_KEY_CHARS = 8192;
export const MAX_MESSAGE_CHARS = 1024;
export const MAX_ENTRY_ID_CHARS = 128;
export const TRANSFER_ID_HEX_CHARS = 32;
export const SHA256_HEX_CHARS = 64;
/**
 * Maximum envelope size of an eager offer, whose data frames and `end` follow the offer
 * without waiting for `accept`. The receiver keeps such an upload in memory.
 */
export const MAX_EAGER_ENVELOPE_BYTES = 1024 * 1024;

/** Codes a receiver may put in `reject`. */
export const REJECT_CODES = ['NAME_INVALID', 'FILE_TOO_LARGE', 'DISK_FULL', 'TRANSFER_REJECTED', 'HASH_MISMATCH'] as const;
export type RejectCode = (typeof REJECT_CODES)[number];

/** Codes either side may put in `error`; anything else arrives as `PROTOCOL_VIOLATION`. */
export const REMOTE_ERROR_CODES: readonly SftErrorCode[] = [
  'PROTOCOL_VIOLATION',
  'PROTOCOL_LIMIT_EXCEEDED',
  'PROTOCOL_UNSUPPORTED_VERSION',
  'TIMEOUT',
  'DISK_FULL',
  'IO_FAILED',
  'NAME_INVALID',
  'FILE_TOO_LARGE',
  'TRANSFER_REJECTED',
  'TRANSFER_CANCELLED',
  'HASH_MISMATCH',
  'STORE_CORRUPT',
];

export interface HelloRequest { type: 'hello'; versions: number[]; software: string }
export interface LoginRequest { type: 'login'; username: string; password: string }
export interface Offer {
  type: 'offer';
  transferId: string;
  name: string;
  path: string;
  size: number;
  headerSize: number;
  plaintextSize: number;
  /** The envelope's data frames and `end` follow at once; the receiver discards them after a `reject`. */
  eager?: boolean;
}
export interface End { type: 'end'; transferId: string; sha256: string }
export interface Cancel { type: 'cancel'; transferId: string }
export interface Bye { type: 'bye' }
export interface ErrorMessage { type: 'error'; code: SftErrorCode; message: string }

export interface HelloReply { type: 'hello'; version: number; software: string }
export interface LoginOk { type: 'login-ok'; publicKey: string }
export interface LoginFailed { type: 'login-failed'; reason: 'invalid' | 'locked'; message: string; retryAfterMs?: number }
export interface Accept { type: 'accept'; transferId: string; offset: number }
export interface Reject { type: 'reject'; transferId: string; code: RejectCode; message: string }
export interface Committed { type: 'committed'; transferId: string; offset: number }
export interface Confirmed { type: 'confirmed'; transferId: string; entryId: string }

export type SenderMessage = HelloRequest | LoginRequest | Offer | End | Cancel | Bye | ErrorMessage;
export type ReceiverMessage = HelloReply | LoginOk | LoginFailed | Accept | Reject | Committed | Confirmed | Bye | ErrorMessage;

/** Encodes a message as one control frame. */
export function encodeMessage(message: SenderMessage | ReceiverMessage): Buffer {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  if (body.length > MAX_CONTROL_MESSAGE_BYTES) {
    throw new SftError('PROTOCOL_LIMIT_EXCEEDED', `The ${message.type} message is ${body.length} bytes, above the ${MAX_CONTROL_MESSAGE_BYTES}-byte limit.`);
  }
  return encodeControlFrame(body);
}

/** Parses a control frame body that a sender sent. */
export function parseSenderMessage(body: Buffer): SenderMessage {
  const fields = new Fields(decodeObject(body));
  const type = fields.type;
  switch (type) {
    case 'hello':
      return { type, versions: fields.versions('versions'), software: fields.text('software', 0, MAX_SOFTWARE_CHARS) };
    case 'login':
      return {
        type,
        username: fields.string('username', 1, MAX_USERNAME_CHARS),
        password: fields.string('password', 1, MAX_PASSWORD_CHARS),
      };
    case 'offer': {
      const offer: Offer = {
        type,
        transferId: fields.hex('transferId', TRANSFER_ID_HEX_CHARS),
        // Empty names reach the store, which shows them under a placeholder name.
        name: fields.string('name', 0, MAX_NAME_CHARS),
        path: fields.string('path', 0, MAX_PATH_CHARS),
        size: fields.integer('size', 0, Number.MAX_SAFE_INTEGER),
        headerSize: fields.integer('headerSize', MIN_HEADER_SIZE, MAX_HEADER_SIZE),
        plaintextSize: fields.integer('plaintextSize', 0, Number.MAX_SAFE_INTEGER),
      };
      if (fields.optionalBoolean('eager') === true) {
        if (offer.size > MAX_EAGER_ENVELOPE_BYTES) {
          throw violation(`an eager offer of ${offer.size} bytes is above the limit of ${MAX_EAGER_ENVELOPE_BYTES}`);
        }
        offer.eager = true;
      }
      return offer;
    }
    case 'end':
      return { type, transferId: fields.hex('transferId', TRANSFER_ID_HEX_CHARS), sha256: fields.hex('sha256', SHA256_HEX_CHARS) };
    case 'cancel':
      return { type, transferId: fields.hex('transferId', TRANSFER_ID_HEX_CHARS) };
    case 'bye':
      return { type };
    case 'error':
      return fields.error();
    default:
      throw violation(`unknown message type "${printable(type)}" from the sender`);
  }
}

/** Parses a control frame body that a receiver sent. */
export function parseReceiverMessage(body: Buffer): ReceiverMessage {
  const fields = new Fields(decodeObject(body));
  const type = fields.type;
  switch (type) {
    case 'hello':
      return { type, version: fields.integer('version', 1, 65535), software: fields.text('software', 0, MAX_SOFTWARE_CHARS) };
    case 'login-ok':
      return { type, publicKey: fields.string('publicKey', 1, MAX_PUBLIC_KEY_CHARS) };
    case 'login-failed': {
      const reason = fields.oneOf('reason', ['invalid', 'locked'] as const);
      const message = fields.text('message', 0, MAX_MESSAGE_CHARS);
      const retryAfterMs = fields.optionalInteger('retryAfterMs', 0, Number.MAX_SAFE_INTEGER);
      return retryAfterMs === undefined ? { type, reason, message } : { type, reason, message, retryAfterMs };
    }
    case 'accept':
      return { type, transferId: fields.hex('transferId', TRANSFER_ID_HEX_CHARS), offset: fields.integer('offset', 0, Number.MAX_SAFE_INTEGER) };
    case 'reject':
      return {
        type,
        transferId: fields.hex('transferId', TRANSFER_ID_HEX_CHARS),
        code: fields.oneOf('code', REJECT_CODES),
        message: fields.text('message', 0, MAX_MESSAGE_CHARS),
      };
    case 'committed':
      return { type, transferId: fields.hex('transferId', TRANSFER_ID_HEX_CHARS), offset: fields.integer('offset', 0, Number.MAX_SAFE_INTEGER) };
    case 'confirmed':
      return { type, transferId: fields.hex('transferId', TRANSFER_ID_HEX_CHARS), entryId: fields.text('entryId', 1, MAX_ENTRY_ID_CHARS) };
    case 'bye':
      return { type };
    case 'error':
      return fields.error();
    default:
      throw violation(`unknown message type "${printable(type)}" from the receiver`);
  }
}

function violation(what: string): SftError {
  return new SftError('PROTOCOL_VIOLATION', `Invalid control message: ${what}. The peer does not follow the sft protocol.`);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function decodeObject(body: Buffer): Record<string, unknown> {
  if (body.length > MAX_CONTROL_MESSAGE_BYTES) {
    throw new SftError('PROTOCOL_LIMIT_EXCEEDED', `A control message of ${body.length} bytes is above the ${MAX_CONTROL_MESSAGE_BYTES}-byte limit.`);
  }
  let text: string;
  try {
    text = strictUtf8.decode(body);
  } catch {
    throw violation('the body is not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw violation('the body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw violation('the body is not a JSON object');
  }
  return value as Record<string, unknown>;
}

/** Replaces control characters, so a peer's text cannot move a terminal's cursor or hide text. */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '?');
}

function codePoints(text: string): number {
  let count = 0;
  for (const _ of text) {
    count++;
  }
  return count;
}

/** Typed access to the fields of one decoded message; each getter checks what it returns. */
class Fields {
  readonly type: string;

  constructor(private readonly object: Record<string, unknown>) {
    this.type = this.string('type', 1, 32);
  }

  private own(name: string): unknown {
    return Object.prototype.hasOwnProperty.call(this.object, name) ? this.object[name] : undefined;
  }

  string(name: string, min: number, max: number): string {
    const value = this.own(name);
    if (typeof value !== 'string') {
      throw violation(`field "${name}" of "${printable(String(this.type ?? ''))}" is missing or not a string`);
    }
    // A code point takes one or two UTF-16 units, so a string of more than 2 * max units has
    // more than max code points and fails without being counted.
    const length = value.length <= 2 * max ? codePoints(value) : max + 1;
    if (length < min || length > max) {
      throw violation(`field "${name}" has ${length > max ? 'more than ' + max : length} characters, outside ${min}..${max}`);
    }
    return value;
  }

  /** A string meant for display: control and bidirectional-override characters are replaced. */
  text(name: string, min: number, max: number): string {
    return printable(this.string(name, min, max));
  }

  integer(name: string, min: number, max: number): number {
    const value = this.own(name);
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
      throw violation(`field "${name}" is missing or not an integer`);
    }
    if (value < min || value > max) {
      throw violation(`field "${name}" is ${value}, outside ${min}..${max}`);
    }
    return value;
  }

  optionalBoolean(name: string): boolean | undefined {
    const value = this.own(name);
    if (value !== undefined && typeof value !== 'boolean') {
      throw violation(`field "${name}" is not true or false`);
    }
    return value;
  }

  optionalInteger(name: string, min: number, max: number): number | undefined {
    return this.own(name) === undefined ? undefined : this.integer(name, min, max);
  }

  hex(name: string, length: number): string {
    const value = this.string(name, length, length);
    if (!/^[0-9a-f]+$/.test(value)) {
      throw violation(`field "${name}" is not ${length} lowercase hexadecimal characters`);
    }
    return value;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[]): T {
    const value = this.string(name, 1, 64);
    if (!(allowed as readonly string[]).includes(value)) {
      throw violation(`field "${name}" is "${printable(value)}", not one of ${allowed.join(', ')}`);
    }
    return value as T;
  }

  versions(name: string): number[] {
    const value = this.own(name);
    if (!Array.isArray(value) || value.length < 1 || value.length > MAX_VERSIONS) {
      throw violation(`field "${name}" is not a list of 1 to ${MAX_VERSIONS} versions`);
    }
    return value.map((item, index) => {
      if (typeof item !== 'number' || !Number.isSafeInteger(item) || item < 1 || item > 65535) {
        throw violation(`item ${index} of "${name}" is not an integer in 1..65535`);
      }
      return item;
    });
  }

  error(): ErrorMessage {
    const code = this.string('code', 1, 64);
    const message = this.text('message', 0, MAX_MESSAGE_CHARS);
    const known = REMOTE_ERROR_CODES.includes(code as SftErrorCode);
    return { type: 'error', code: known ? (code as SftErrorCode) : 'PROTOCOL_VIOLATION', message };
  }
}
