/**
 * Fuzz targets: the parsers of untrusted input, each with a seed corpus, a mutator and an
 * oracle that checks more than "did not crash".
 *
 * A target's `run` returns an outcome label (`ok` or an SftError code). It throws
 * `OracleViolation` when a result breaks the format's rules, and lets any untyped error
 * through; the engine reports both as failures.
 */
import * as crypto from 'node:crypto';
import { encodeAuthenticatedHeader, parseHeader } from '../../../src/crypto/format';
import { readHeader } from '../../../src/crypto';
import { isSftError } from '../../../src/errors';
import { parseIndex, parseSidecar } from '../../../src/storage/entry';
import { MAX_PATH_SEGMENTS, displayName, safeRelativePath, safeSegment } from '../../../src/storage/names';
import { DEFAULT_FRAME_LIMITS, FRAME_HEADER_BYTES, Frame, FrameDecoder, FrameLimits, encodeDataFrame } from '../../../src/transfer/frame';
import { encodeMessage, parseReceiverMessage, parseSenderMessage } from '../../../src/transfer/messages';
import { byteSource, openBuffer } from '../envelope-helpers';
import { unsafeSegmentReasons } from '../safe-name';
import { SeededRandom } from '../seeded-random';
import { loadEnvelopes, loadTestKey, sampleMessages } from './corpus';
import { MAX_MUTATED_BYTES, mutateBytes, mutateMessage, randomCuts } from './mutators';

/** A result that the format forbids, found by a target's oracle. */
export class OracleViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OracleViolation';
  }
}

export interface FuzzInput {
  bytes: Buffer;
  /** Where the bytes are split into pieces, as a network or a file stream would deliver them. */
  cuts: number[];
}

export interface PreparedTarget {
  generate(random: SeededRandom): FuzzInput;
  run(input: FuzzInput): Promise<string> | string;
}

export interface FuzzTarget {
  name: string;
  description: string;
  prepare(): Promise<PreparedTarget> | PreparedTarget;
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new OracleViolation(message);
}

/** Runs `action`; returns `ok`, or the code of an SftError. Anything else is rethrown. */
async function outcomeOf(action: () => unknown): Promise<string> {
  try {
    await action();
    return 'ok';
  } catch (error) {
    if (isSftError(error)) return error.code;
    throw error;
  }
}

function syncOutcomeOf(action: () => unknown): string {
  try {
    action();
    return 'ok';
  } catch (error) {
    if (isSftError(error)) return error.code;
    throw error;
  }
}

function sha256(bytes: Buffer): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

// Envelope header parser.

const headerTarget: FuzzTarget = {
  name: 'header',
  description: 'envelope header parser (parseHeader, readHeader): structure and limits, no key',
  prepare() {
    const headers = loadEnvelopes().map((envelope) => envelope.bytes.subarray(0, envelope.headerLength));
    return {
      generate(random) {
        const bytes = mutateBytes(random, random.pick(headers), headers);
        return { bytes, cuts: randomCuts(random, bytes.length) };
      },
      async run({ bytes, cuts }) {
        const direct = syncOutcomeOf(() => {
          const header = parseHeader(bytes);
          // A strict parser accepts only the canonical encoding: re-encoding what it read gives the same bytes.
          const encoded = encodeAuthenticatedHeader(header.payloadSalt, header.stanzas, header.sealedMetadata);
          check(Buffer.concat([encoded, header.mac]).equals(bytes), 'parseHeader accepted a header that does not re-encode to the same bytes');
          check(header.length === bytes.length && header.length <= 65_536, `parseHeader returned length ${header.length} for ${bytes.length} bytes`);
        });
        // The stream reader must agree with the buffer parser whenever the input is exactly one header.
        const streamed = await outcomeOf(() => readHeader(byteSource(bytes, cuts)));
        if (direct === 'ok') check(streamed === 'ok', `readHeader failed with ${streamed} on a header parseHeader accepted`);
        return direct;
      },
    };
  },
};

// Whole envelopes, opened with the test key.

const envelopeTarget: FuzzTarget = {
  name: 'envelope',
  description: 'openEnvelope and the payload stream with an RSA identity; success must yield a known plaintext',
  prepare() {
    const envelopes = loadEnvelopes();
    const donors = envelopes.map((envelope) => envelope.bytes);
    const plaintexts = new Set(envelopes.map((envelope) => envelope.plaintextSha256));
    const identities = { privateKeys: [loadTestKey()] };
    return {
      generate(random) {
        const base = random.pick(envelopes);
        let bytes: Buffer;
        if (random.chance(0.4)) {
          // Mutate only the header, so the payload after it stays well formed.
          const header = mutateBytes(random, base.bytes.subarray(0, base.headerLength), donors);
          bytes = Buffer.concat([header, base.bytes.subarray(base.headerLength)]);
        } else {
          bytes = mutateBytes(random, base.bytes, donors);
        }
        return { bytes, cuts: randomCuts(random, bytes.length) };
      },
      run({ bytes, cuts }) {
        return outcomeOf(async () => {
          const plaintext = await openBuffer(bytes, identities, cuts);
          check(plaintexts.has(sha256(plaintext)), 'a mutated envelope opened to a plaintext that no corpus envelope holds');
        });
      },
    };
  },
};

// Frames and the messages inside them.

function frameStreams(publicKeyPem: string): Buffer[] {
  const { sender, receiver } = sampleMessages(publicKeyPem);
  const data = (size: number, fill: number): Buffer => encodeDataFrame(Buffer.alloc(size, fill));
  return [
    Buffer.concat([...sender.map(encodeMessage), data(1, 1), data(300, 2), data(70_000, 3)]),
    Buffer.concat(receiver.map(encodeMessage)),
    Buffer.concat([encodeMessage(sender[2]), data(4096, 4), data(17, 5), encodeMessage(sender[3])]),
  ];
}

const framesTarget: FuzzTarget = {
  name: 'frames',
  description: 'FrameDecoder over split byte streams, and both message parsers on every control frame',
  prepare() {
    const publicKeyPem = crypto.createPublicKey(loadTestKey()).export({ type: 'spki', format: 'pem' }).toString();
    const streams = frameStreams(publicKeyPem);
    return {
      generate(random) {
        const bytes = mutateBytes(random, random.pick(streams), streams);
        return { bytes, cuts: randomCuts(random, bytes.length) };
      },
      run({ bytes, cuts }) {
        // Small limits on some inputs, as a receiver sets them before login.
        const limits: FrameLimits = bytes.length % 3 === 0 ? { maxControlMessageBytes: 1024, maxDataFrameBytes: 0 } : DEFAULT_FRAME_LIMITS;
        const decoder = new FrameDecoder(limits);
        const frames: Frame[] = [];
        let start = 0;
        const decoded = syncOutcomeOf(() => {
          for (const end of [...cuts, bytes.length]) {
            frames.push(...decoder.push(bytes.subarray(start, end)));
            start = end;
          }
        });
        let consumed = 0;
        for (const frame of frames) {
          const max = frame.type === 'control' ? limits.maxControlMessageBytes : limits.maxDataFrameBytes;
          check(frame.body.length >= 1 && frame.body.length <= max, `a ${frame.type} frame of ${frame.body.length} bytes passed a limit of ${max}`);
          const header = bytes.subarray(consumed, consumed + FRAME_HEADER_BYTES);
          check(header.readUInt32BE(0) === frame.body.length, 'a frame body differs in length from its header');
          check(bytes.subarray(consumed + FRAME_HEADER_BYTES, consumed + FRAME_HEADER_BYTES + frame.body.length).equals(frame.body), 'a frame body differs from the bytes sent');
          consumed += FRAME_HEADER_BYTES + frame.body.length;
          if (frame.type === 'control') {
            syncOutcomeOf(() => checkSenderMessage(parseSenderMessage(frame.body)));
            syncOutcomeOf(() => checkReceiverMessage(parseReceiverMessage(frame.body)));
          }
        }
        if (decoded === 'ok' && decoder.idle) check(consumed === bytes.length, `the decoder is idle after ${consumed} of ${bytes.length} bytes`);
        return decoded;
      },
    };
  },
};

// Control messages, mutated field by field.

const HEX_32 = /^[0-9a-f]{32}$/;
const HEX_64 = /^[0-9a-f]{64}$/;
const CONTROL_OR_BIDI = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

function codePointCount(text: string): number {
  return [...text].length;
}

function checkKeys(message: object, allowed: string[]): void {
  check(Object.getPrototypeOf(message) === Object.prototype, 'a parsed message has an unusual prototype');
  const extra = Object.keys(message).filter((key) => !allowed.includes(key));
  check(extra.length === 0, `a parsed message kept unknown fields: ${extra.join(', ')}`);
}

function checkString(value: unknown, min: number, max: number, field: string): void {
  check(typeof value === 'string', `${field} is not a string`);
  const count = codePointCount(value);
  check(count >= min && count <= max, `${field} has ${count} characters, outside ${min}..${max}`);
}

function checkDisplayText(value: unknown, max: number, field: string): void {
  checkString(value, 0, max, field);
  check(!CONTROL_OR_BIDI.test(value as string), `${field} kept a control or bidi character`);
}

function checkInteger(value: unknown, min: number, max: number, field: string): void {
  check(typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max, `${field} is ${String(value)}, outside ${min}..${max}`);
}

/** Checks a parsed sender message against docs/PROTOCOL.md, independently of the parser. */
function checkSenderMessage(message: ReturnType<typeof parseSenderMessage>): void {
  const m = message as unknown as Record<string, unknown>;
  switch (message.type) {
    case 'hello':
      checkKeys(m, ['type', 'versions', 'software']);
      check(Array.isArray(m.versions) && m.versions.length >= 1 && m.versions.length <= 16, 'versions is not 1 to 16 items');
      for (const version of m.versions as unknown[]) checkInteger(version, 1, 65535, 'a version');
      checkDisplayText(m.software, 64, 'software');
      return;
    case 'login':
      checkKeys(m, ['type', 'username', 'password']);
      checkString(m.username, 1, 256, 'username');
      checkString(m.password, 1, 1024, 'password');
      return;
    case 'offer':
      checkKeys(m, ['type', 'transferId', 'name', 'path', 'size', 'headerSize', 'plaintextSize']);
      check(HEX_32.test(m.transferId as string), 'transferId is not 32 lowercase hex digits');
      checkString(m.name, 0, 1024, 'name');
      checkString(m.path, 0, 4096, 'path');
      checkInteger(m.size, 0, Number.MAX_SAFE_INTEGER, 'size');
      checkInteger(m.headerSize, 100, 65_536, 'headerSize');
      checkInteger(m.plaintextSize, 0, Number.MAX_SAFE_INTEGER, 'plaintextSize');
      return;
    case 'end':
      checkKeys(m, ['type', 'transferId', 'sha256']);
      check(HEX_32.test(m.transferId as string) && HEX_64.test(m.sha256 as string), 'end has a malformed transferId or sha256');
      return;
    case 'cancel':
      checkKeys(m, ['type', 'transferId']);
      check(HEX_32.test(m.transferId as string), 'cancel has a malformed transferId');
      return;
    case 'bye':
      checkKeys(m, ['type']);
      return;
    case 'error':
      checkKeys(m, ['type', 'code', 'message']);
      checkString(m.code, 1, 64, 'code');
      checkDisplayText(m.message, 1024, 'message');
      return;
    default:
      throw new OracleViolation(`parseSenderMessage returned type ${String(m.type)}`);
  }
}

/** Checks a parsed receiver message against docs/PROTOCOL.md, independently of the parser. */
function checkReceiverMessage(message: ReturnType<typeof parseReceiverMessage>): void {
  const m = message as unknown as Record<string, unknown>;
  switch (message.type) {
    case 'hello':
      checkKeys(m, ['type', 'version', 'software']);
      checkInteger(m.version, 1, 65535, 'version');
      checkDisplayText(m.software, 64, 'software');
      return;
    case 'login-ok':
      checkKeys(m, ['type', 'publicKey']);
      checkString(m.publicKey, 1, 8192, 'publicKey');
      return;
    case 'login-failed':
      checkKeys(m, ['type', 'reason', 'message', 'retryAfterMs']);
      check(m.reason === 'invalid' || m.reason === 'locked', `reason is ${String(m.reason)}`);
      checkDisplayText(m.message, 1024, 'message');
      if (m.retryAfterMs !== undefined) checkInteger(m.retryAfterMs, 0, Number.MAX_SAFE_INTEGER, 'retryAfterMs');
      return;
    case 'accept':
    case 'committed':
      checkKeys(m, ['type', 'transferId', 'offset']);
      check(HEX_32.test(m.transferId as string), `${message.type} has a malformed transferId`);
      checkInteger(m.offset, 0, Number.MAX_SAFE_INTEGER, 'offset');
      return;
    case 'reject':
      checkKeys(m, ['type', 'transferId', 'code', 'message']);
      check(['NAME_INVALID', 'FILE_TOO_LARGE', 'DISK_FULL', 'TRANSFER_REJECTED', 'HASH_MISMATCH'].includes(m.code as string), `reject code ${String(m.code)}`);
      checkDisplayText(m.message, 1024, 'message');
      return;
    case 'confirmed':
      checkKeys(m, ['type', 'transferId', 'entryId']);
      checkDisplayText(m.entryId, 128, 'entryId');
      check((m.entryId as string).length > 0, 'entryId is empty');
      return;
    case 'bye':
      checkKeys(m, ['type']);
      return;
    case 'error':
      checkKeys(m, ['type', 'code', 'message']);
      checkDisplayText(m.message, 1024, 'message');
      return;
    default:
      throw new OracleViolation(`parseReceiverMessage returned type ${String(m.type)}`);
  }
}

const messagesTarget: FuzzTarget = {
  name: 'messages',
  description: 'parseSenderMessage and parseReceiverMessage on field-level JSON mutations, checked against the protocol',
  prepare() {
    const publicKeyPem = crypto.createPublicKey(loadTestKey()).export({ type: 'spki', format: 'pem' }).toString();
    const { sender, receiver } = sampleMessages(publicKeyPem);
    const messages = [...sender, ...receiver] as unknown as Array<Record<string, unknown>>;
    const donors = messages.map((message) => Buffer.from(JSON.stringify(message)));
    return {
      generate(random) {
        let bytes: Buffer = Buffer.from(mutateMessage(random, random.pick(messages)), 'utf8');
        if (random.chance(0.25)) bytes = mutateBytes(random, bytes, donors);
        return { bytes, cuts: [] };
      },
      run({ bytes }) {
        const senderOutcome = syncOutcomeOf(() => checkSenderMessage(parseSenderMessage(bytes)));
        const receiverOutcome = syncOutcomeOf(() => checkReceiverMessage(parseReceiverMessage(bytes)));
        check(({} as Record<string, unknown>).polluted === undefined, 'Object.prototype was changed');
        return senderOutcome === 'ok' || receiverOutcome === 'ok' ? 'ok' : senderOutcome;
      },
    };
  },
};

// Names from the network.

const NAME_PIECES = [
  'a', 'report', '.pdf', '.', '..', '/', '\\', '//', '\\\\', 'C:', 'c:\\', 'server\\share', ' ', '. ', '\u0000', '\u0007',
  '\u001b', '\u007f', '\u0085', '\u200e', '\u202e', '\u2066', '\u061c', 'CON', 'nul', 'COM1', 'LPT¹', 'conin$', '<', '>', ':',
  '"', '|', '?', '*', '報告', '日本語テキスト', 'e\u0301', 'é', '\ud800', '\udfff', '😀', '\u0301\u0301\u0301', 'ﬀ', '~', '$', '%00',
];

const namesTarget: FuzzTarget = {
  name: 'names',
  description: 'safeSegment, safeRelativePath and displayName on hostile names; every result must be a safe segment',
  prepare() {
    return {
      generate(random) {
        let name = '';
        const count = random.chance(0.05) ? random.between(100, 1500) : random.between(0, 24);
        for (let i = 0; i < count; i++) name += random.pick(NAME_PIECES);
        return { bytes: Buffer.from(JSON.stringify(name), 'utf8'), cuts: [] };
      },
      run({ bytes }) {
        const name = JSON.parse(bytes.toString('utf8')) as string;
        const outcomes = [
          syncOutcomeOf(() => checkSegment(safeSegment(name), name)),
          syncOutcomeOf(() => {
            const segments = safeRelativePath(name);
            check(segments.length <= MAX_PATH_SEGMENTS, `${segments.length} segments`);
            for (const segment of segments) checkSegment(segment, name);
          }),
          syncOutcomeOf(() => checkSegment(displayName(name), name)),
        ];
        for (const outcome of outcomes) check(outcome === 'ok' || outcome === 'NAME_INVALID', `a name failed with ${outcome}`);
        return outcomes.join('/');
      },
    };
  },
};

function checkSegment(segment: string, from: string): void {
  const reasons = unsafeSegmentReasons(segment);
  check(reasons.length === 0, `segment ${JSON.stringify(segment).slice(0, 120)} from ${JSON.stringify(from).slice(0, 120)}: ${reasons.join(', ')}`);
}

// Store records read from disk.

const storeRecordsTarget: FuzzTarget = {
  name: 'store-records',
  description: 'parseIndex and parseSidecar on damaged index and sidecar files; never throw, entries well formed',
  prepare() {
    const entry = {
      id: '0123456789abcdef0123456789abcdef', transferId: 'fedcba9876543210fedcba9876543210', senderUsername: 'alice',
      remoteAddress: '127.0.0.1', displayName: 'report.pdf', relativePath: 'docs', envelopeSize: 70_500, plaintextSize: 70_000,
      receivedAt: '2025-12-04T20:00:00.000Z', sha256: 'ab'.repeat(32),
    };
    const second = { ...entry, id: '1'.repeat(32), relativePath: '' };
    const texts = [
      JSON.stringify({ version: 1, entries: [entry, second] }),
      JSON.stringify({ version: 1, entry }, null, 2),
    ];
    const donors = texts.map((text) => Buffer.from(text));
    return {
      generate(random) {
        const base = random.pick(texts);
        let bytes: Buffer;
        if (random.chance(0.5)) {
          // The mutated entry goes in as text, so entries that are not valid JSON reach the parsers too.
          const mutated = mutateMessage(random, random.chance(0.5) ? entry : second);
          const text = base === texts[0] ? `{"version":1,"entries":[${mutated},${JSON.stringify(second)}]}` : `{"version":1,"entry":${mutated}}`;
          bytes = Buffer.from(text, 'utf8');
        } else {
          bytes = mutateBytes(random, Buffer.from(base), donors);
        }
        return { bytes: bytes.subarray(0, MAX_MUTATED_BYTES), cuts: [] };
      },
      run({ bytes }) {
        const text = bytes.toString('utf8');
        const index = parseIndex(text);
        const sidecar = parseSidecar(text);
        const entries = typeof index === 'string' ? [] : index;
        if (typeof sidecar !== 'string') entries.push(sidecar);
        for (const parsed of entries) {
          check(/^[0-9a-f]{32}$/.test(parsed.id) && HEX_64.test(parsed.sha256), 'an entry with a malformed id or sha256 was accepted');
          check(Number.isSafeInteger(parsed.envelopeSize) && parsed.envelopeSize >= 0, 'an entry with an invalid envelopeSize was accepted');
          check(typeof parsed.displayName === 'string' && parsed.displayName.length > 0, 'an entry without a display name was accepted');
        }
        return typeof index === 'string' && typeof sidecar === 'string' ? 'rejected' : 'ok';
      },
    };
  },
};

export const FUZZ_TARGETS: readonly FuzzTarget[] = [headerTarget, envelopeTarget, framesTarget, messagesTarget, namesTarget, storeRecordsTarget];

/** Builds a target that fails in one chosen way at input `failAt`, to show that the engine notices. */
function faultyTarget(name: string, fault: (input: FuzzInput) => Promise<string> | string): FuzzTarget {
  const failAt = 5;
  return {
    name,
    description: `engine self-test: ${name.replace('self-test-', '')} at input ${failAt}`,
    prepare: () => ({
      generate: (random) => ({ bytes: Buffer.from([random.below(256)]), cuts: [] }),
      run: (input) => (input.bytes.length === 1 && inputCounter.next() === failAt ? fault(input) : 'ok'),
    }),
  };
}

/** Counts inputs inside one worker; each self-test runs in its own worker, so it starts at 0. */
const inputCounter = { value: 0, next(): number { return this.value++; } };

/** Targets that misbehave on purpose; `fuzz.test.ts` checks that each failure is caught. */
export const SELF_TEST_TARGETS: readonly FuzzTarget[] = [
  faultyTarget('self-test-untyped', () => {
    throw new TypeError('an untyped error');
  }),
  faultyTarget('self-test-oracle', () => {
    throw new OracleViolation('an oracle violation');
  }),
  faultyTarget('self-test-busy-loop', () => {
    for (;;) {
      // Spins until the watchdog terminates the worker.
    }
  }),
  faultyTarget('self-test-never-settles', () => new Promise<string>(() => undefined)),
  faultyTarget('self-test-large-buffer', () => {
    // Released at once: only the peak RSS can show it.
    return Buffer.alloc(320 * 1024 * 1024, 1).length > 0 ? 'ok' : 'empty';
  }),
  faultyTarget('self-test-heap-growth', () => {
    const kept: number[][] = [];
    for (;;) kept.push(new Array<number>(1_000_000).fill(kept.length));
  }),
];

export function findTarget(name: string): FuzzTarget {
  const target = [...FUZZ_TARGETS, ...SELF_TEST_TARGETS].find((candidate) => candidate.name === name);
  if (!target) {
    throw new Error(`Unknown fuzz target "${name}". Targets: ${FUZZ_TARGETS.map((candidate) => candidate.name).join(', ')}.`);
  }
  return target;
}
