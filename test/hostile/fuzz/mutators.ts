/**
 * Mutation operators for the fuzzers: byte-level changes in the style of AFL's havoc stage,
 * and structure-aware changes for JSON control messages.
 *
 * Every operator draws only from the SeededRandom it is given, so an input is a pure
 * function of (corpus, seed, input index) and can be replayed on its own.
 */
import { SeededRandom } from '../seeded-random';

/** Inputs never grow beyond this, so a run of stacked insertions cannot exhaust memory. */
export const MAX_MUTATED_BYTES = 2 * 1024 * 1024;

const INTERESTING_8 = [0x00, 0x01, 0x02, 0x0f, 0x10, 0x7f, 0x80, 0xfe, 0xff];

/** Limits of the formats under test, and their neighbors, for length and count fields. */
const INTERESTING_32 = [
  0, 1, 2, 15, 16, 17, 31, 32, 33, 48, 64, 65, 99, 100, 101, 255, 256, 257, 511, 512, 513,
  1023, 1024, 1025, 4095, 4096, 4097, 4112, 4113, 32767, 32768, 65535, 65536, 65537, 65552,
  99_999, 100_000, 1_048_575, 1_048_576, 1_048_577, 9_999_999, 10_000_000, 10_000_001,
  0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff,
];

type ByteOperator = (random: SeededRandom, input: Buffer, donors: readonly Buffer[]) => Buffer;

function position(random: SeededRandom, input: Buffer): number {
  return random.below(Math.max(1, input.length));
}

const flipBit: ByteOperator = (random, input) => {
  if (input.length === 0) return input;
  const out = Buffer.from(input);
  out[position(random, out)] ^= 1 << random.below(8);
  return out;
};

const setRandomByte: ByteOperator = (random, input) => {
  if (input.length === 0) return input;
  const out = Buffer.from(input);
  out[position(random, out)] = random.below(256);
  return out;
};

const setInteresting8: ByteOperator = (random, input) => {
  if (input.length === 0) return input;
  const out = Buffer.from(input);
  out[position(random, out)] = random.pick(INTERESTING_8);
  return out;
};

const setInteresting16: ByteOperator = (random, input) => {
  if (input.length < 2) return input;
  const out = Buffer.from(input);
  const value = random.pick(INTERESTING_32) & 0xffff;
  const at = random.below(out.length - 1);
  if (random.chance(0.8)) out.writeUInt16BE(value, at);
  else out.writeUInt16LE(value, at);
  return out;
};

const setInteresting32: ByteOperator = (random, input) => {
  if (input.length < 4) return input;
  const out = Buffer.from(input);
  const value = random.pick(INTERESTING_32) >>> 0;
  const at = random.below(out.length - 3);
  if (random.chance(0.8)) out.writeUInt32BE(value, at);
  else out.writeUInt32LE(value, at);
  return out;
};

const addSmall: ByteOperator = (random, input) => {
  if (input.length === 0) return input;
  const out = Buffer.from(input);
  const at = position(random, out);
  const delta = random.between(1, 16) * (random.chance(0.5) ? 1 : -1);
  out[at] = (out[at] + delta) & 0xff;
  return out;
};

const deleteRange: ByteOperator = (random, input) => {
  if (input.length === 0) return input;
  const start = position(random, input);
  const length = random.between(1, Math.min(random.chance(0.9) ? 16 : 4096, input.length - start));
  return Buffer.concat([input.subarray(0, start), input.subarray(start + length)]);
};

const insertRandomBytes: ByteOperator = (random, input) => {
  const at = random.below(input.length + 1);
  return Buffer.concat([input.subarray(0, at), random.bytes(random.between(1, 32)), input.subarray(at)]);
};

const insertRepeatedByte: ByteOperator = (random, input) => {
  const at = random.below(input.length + 1);
  const run = Buffer.alloc(random.between(1, random.chance(0.9) ? 64 : 8192), random.pick(INTERESTING_8));
  return Buffer.concat([input.subarray(0, at), run, input.subarray(at)]);
};

const duplicateRange: ByteOperator = (random, input) => {
  if (input.length === 0) return input;
  const start = position(random, input);
  const length = random.between(1, Math.min(256, input.length - start));
  const at = random.below(input.length + 1);
  return Buffer.concat([input.subarray(0, at), input.subarray(start, start + length), input.subarray(at)]);
};

const truncate: ByteOperator = (random, input) => input.subarray(0, random.below(input.length + 1));

const overwriteFromDonor: ByteOperator = (random, input, donors) => {
  const donor = random.pick(donors);
  if (donor.length === 0 || input.length === 0) return input;
  const out = Buffer.from(input);
  const from = random.below(donor.length);
  const at = position(random, out);
  const length = Math.min(random.between(1, 64), donor.length - from, out.length - at);
  donor.copy(out, at, from, from + length);
  return out;
};

const spliceWithDonor: ByteOperator = (random, input, donors) => {
  const donor = random.pick(donors);
  return Buffer.concat([input.subarray(0, random.below(input.length + 1)), donor.subarray(random.below(donor.length + 1))]);
};

const BYTE_OPERATORS: readonly ByteOperator[] = [
  flipBit, flipBit, setRandomByte, setInteresting8, setInteresting16, setInteresting32, setInteresting32,
  addSmall, deleteRange, insertRandomBytes, insertRepeatedByte, duplicateRange, truncate,
  overwriteFromDonor, spliceWithDonor,
];

/** Applies one to eight stacked byte-level mutations to `input`; never returns more than MAX_MUTATED_BYTES. */
export function mutateBytes(random: SeededRandom, input: Buffer, donors: readonly Buffer[]): Buffer {
  let out = input;
  const rounds = random.chance(0.7) ? random.between(1, 2) : random.between(3, 8);
  for (let i = 0; i < rounds; i++) {
    out = random.pick(BYTE_OPERATORS)(random, out, donors.length > 0 ? donors : [input]);
    if (out.length > MAX_MUTATED_BYTES) out = out.subarray(0, MAX_MUTATED_BYTES);
  }
  return out;
}

/** Returns sorted cut points that split `length` bytes into pieces, as a network would. */
export function randomCuts(random: SeededRandom, length: number): number[] {
  if (length < 2 || random.chance(0.3)) return [];
  const count = random.chance(0.2) ? Math.min(length - 1, random.between(50, 400)) : random.between(1, 8);
  const cuts = new Set<number>();
  for (let i = 0; i < count; i++) cuts.add(1 + random.below(length - 1));
  return [...cuts].sort((a, b) => a - b);
}

// Structure-aware JSON mutation.

/** Strings whose lengths sit at and around the message and name limits. */
const BOUNDARY_LENGTHS = [0, 1, 31, 32, 33, 63, 64, 65, 128, 129, 255, 256, 257, 1023, 1024, 1025, 4095, 4096, 4097, 8192, 8193];

/** Field names of every message in the protocol, so mutations hit fields the parsers read. */
export const MESSAGE_FIELD_NAMES = [
  'type', 'versions', 'software', 'username', 'password', 'transferId', 'name', 'path', 'size', 'headerSize',
  'plaintextSize', 'sha256', 'code', 'message', 'version', 'publicKey', 'reason', 'retryAfterMs', 'offset',
  'entryId', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty',
];

export const MESSAGE_TYPES = [
  'hello', 'login', 'offer', 'end', 'cancel', 'bye', 'error', 'login-ok', 'login-failed', 'accept', 'reject',
  'committed', 'confirmed', 'HELLO', 'hello ', '', 'unknown', '__proto__', 'constructor', 'toString',
];

function hexString(random: SeededRandom, length: number, upper = false): string {
  const digits = upper ? '0123456789ABCDEF' : '0123456789abcdef';
  let out = '';
  for (let i = 0; i < length; i++) out += digits[random.below(16)];
  return out;
}

function hostileString(random: SeededRandom): string {
  const pieces = ['a', 'é', '\u0000', '\u001b[31m', '\u202e', '\u2066', '\ud800', '\udc00', '😀', '../', '..', '\\', 'C:', '"', '\n', '\u0085', 'ﬀ', 'e\u0301'];
  let out = '';
  const count = random.between(1, 12);
  for (let i = 0; i < count; i++) out += random.pick(pieces);
  return out;
}

function interestingValue(random: SeededRandom, depth: number): unknown {
  switch (random.below(16)) {
    case 0: return null;
    case 1: return random.chance(0.5);
    case 2: return random.pick([0, -0, 1, -1, 0.5, 99, 100, 65535, 65536, 65537, 2 ** 31, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 1e308, -1e308, 5e-324]);
    case 3: return 'x'.repeat(random.pick(BOUNDARY_LENGTHS));
    case 4: return '€'.repeat(random.pick(BOUNDARY_LENGTHS));
    case 5: return '😀'.repeat(random.pick(BOUNDARY_LENGTHS) >> 1);
    case 6: return hexString(random, random.pick([31, 32, 33, 63, 64, 65]));
    case 7: return hexString(random, random.pick([32, 64]), true);
    case 8: return hostileString(random);
    case 9: return random.pick(MESSAGE_TYPES);
    case 10: return random.pick(['invalid', 'locked', 'NAME_INVALID', 'DISK_FULL', 'PROTOCOL_VIOLATION', 'USAGE', 'LOGIN_FAILED']);
    case 11: return Array.from({ length: random.pick([0, 1, 16, 17, 100]) }, () => random.pick([1, 0, 65535, 65536, 'x', null]));
    case 12: return depth < 3 ? randomObject(random, depth + 1) : {};
    case 13: return nest(random.between(1, 200));
    case 14: return [interestingValue(random, depth + 1)];
    default: return random.between(0, 2 ** 31);
  }
}

function nest(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

function randomObject(random: SeededRandom, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const count = random.between(0, 4);
  for (let i = 0; i < count; i++) {
    Object.defineProperty(out, random.pick(MESSAGE_FIELD_NAMES), { value: interestingValue(random, depth), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/**
 * Mutates a message object at the field level and returns its JSON text. Own properties
 * named `__proto__` are set with defineProperty, so JSON.stringify writes them as keys.
 */
export function mutateMessage(random: SeededRandom, message: Record<string, unknown>): string {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(message)) {
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  }
  const rounds = random.between(1, 3);
  for (let i = 0; i < rounds; i++) {
    const keys = Object.keys(out);
    const choice = random.below(6);
    if (choice === 0 && keys.length > 0) {
      delete out[random.pick(keys)];
    } else if (choice === 1) {
      out.type = random.pick(MESSAGE_TYPES);
    } else {
      const key = choice === 2 || keys.length === 0 ? random.pick(MESSAGE_FIELD_NAMES) : random.pick(keys);
      Object.defineProperty(out, key, { value: interestingValue(random, 0), enumerable: true, writable: true, configurable: true });
    }
  }
  let text = JSON.stringify(out);
  if (random.chance(0.1)) text = JSON.stringify([out]);
  if (random.chance(0.05)) text = `${text.slice(0, -1)},"type":${JSON.stringify(random.pick(MESSAGE_TYPES))}}`;
  return text;
}
