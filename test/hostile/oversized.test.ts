/**
 * Oversized input: frames, control messages, message fields and envelope headers above each
 * limit are rejected, and they are rejected before anything sized by the peer is allocated.
 *
 * "Before any allocation" is checked two ways: a source that could deliver gigabytes is
 * asked for only a few kilobytes, and many decoders that were each promised the largest
 * allowed frame hold only the bytes that actually arrived.
 */
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { EnvelopeWriter, MAX_HEADER_BYTES, openEnvelope, readHeader } from '../../src/crypto';
import { HEADER_PREFIX_BYTES, MAX_SEALED_METADATA_BYTES, MAX_STANZAS, MAX_STANZA_BODY_BYTES } from '../../src/crypto/format';
import { SftErrorCode, isSftError } from '../../src/errors';
import {
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FrameType,
  MAX_CONTROL_MESSAGE_BYTES,
  MAX_DATA_FRAME_BYTES,
  encodeControlFrame,
  encodeDataFrame,
} from '../../src/transfer/frame';
import { encodeMessage, parseReceiverMessage, parseSenderMessage } from '../../src/transfer/messages';
import { describeError } from './envelope-helpers';

function frameHeader(length: number, type: number): Buffer {
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUInt32BE(length >>> 0, 0);
  header[4] = type;
  return header;
}

function expectCode(action: () => unknown, code: SftErrorCode, what: string): void {
  try {
    action();
  } catch (error) {
    assert.ok(isSftError(error, code), `${what}: expected ${code}, got ${describeError(error)}`);
    return;
  }
  assert.fail(`${what}: accepted`);
}

/** External memory (Buffers) in use after a full garbage collection, when --expose-gc is on. */
function externalBytes(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().arrayBuffers;
}

describe('oversized: frames', () => {
  test('frame headers above each limit fail at the fifth byte', () => {
    const cases: Array<[string, number, number, SftErrorCode]> = [
      ['control frame of 64 KiB + 1', MAX_CONTROL_MESSAGE_BYTES + 1, FrameType.control, 'PROTOCOL_LIMIT_EXCEEDED'],
      ['control frame of 4 GiB - 1', 0xffff_ffff, FrameType.control, 'PROTOCOL_LIMIT_EXCEEDED'],
      ['control frame of 1 byte', 1, FrameType.control, 'PROTOCOL_LIMIT_EXCEEDED'],
      ['data frame of 1 MiB + 1', MAX_DATA_FRAME_BYTES + 1, FrameType.data, 'PROTOCOL_LIMIT_EXCEEDED'],
      ['data frame of 4 GiB - 1', 0xffff_ffff, FrameType.data, 'PROTOCOL_LIMIT_EXCEEDED'],
      ['data frame of 2 GiB', 0x8000_0000, FrameType.data, 'PROTOCOL_LIMIT_EXCEEDED'],
      ['empty data frame', 0, FrameType.data, 'PROTOCOL_LIMIT_EXCEEDED'],
      ['unknown frame type 0x03', 10, 0x03, 'PROTOCOL_VIOLATION'],
      ['unknown frame type 0xff', 10, 0xff, 'PROTOCOL_VIOLATION'],
    ];
    for (const [what, length, type, code] of cases) {
      const decoder = new FrameDecoder();
      const header = frameHeader(length, type);
      // Four bytes are not yet a header, so nothing can be decided.
      assert.deepEqual(decoder.push(header.subarray(0, 4)), [], what);
      expectCode(() => decoder.push(header.subarray(4)), code, what);
      // A failed decoder stays failed: later bytes cannot revive it.
      expectCode(() => decoder.push(encodeControlFrame(Buffer.from('{"type":"bye"}'))), code, `${what}, then a valid frame`);
    }
  });

  test('frames at each limit are accepted', () => {
    const decoder = new FrameDecoder();
    const control = Buffer.alloc(MAX_CONTROL_MESSAGE_BYTES, 0x20);
    control[0] = 0x7b;
    control[control.length - 1] = 0x7d;
    const frames = decoder.push(Buffer.concat([encodeControlFrame(control), encodeDataFrame(Buffer.alloc(MAX_DATA_FRAME_BYTES, 7))]));
    assert.equal(frames.length, 2);
    assert.equal(frames[0].body.length, MAX_CONTROL_MESSAGE_BYTES);
    assert.equal(frames[1].body.length, MAX_DATA_FRAME_BYTES);
  });

  test('data frames are rejected where the limit is zero', () => {
    // A receiver accepts no data frame before login.
    const decoder = new FrameDecoder({ maxControlMessageBytes: MAX_CONTROL_MESSAGE_BYTES, maxDataFrameBytes: 0 });
    expectCode(() => decoder.push(frameHeader(1, FrameType.data)), 'PROTOCOL_VIOLATION', 'data frame before login');
  });

  test('announced frame sizes are not allocated', () => {
    // 200 decoders, each promised a 1 MiB frame and given 16 bytes of it. Allocating the
    // announced size up front would take 200 MiB.
    const decoders: FrameDecoder[] = [];
    const before = externalBytes();
    for (let i = 0; i < 200; i++) {
      const decoder = new FrameDecoder();
      decoder.push(Buffer.concat([frameHeader(MAX_DATA_FRAME_BYTES, FrameType.data), Buffer.alloc(16, i)]));
      assert.equal(decoder.idle, false);
      decoders.push(decoder);
    }
    const growth = externalBytes() - before;
    assert.ok(growth < 32 * 1024 * 1024, `external memory grew by ${growth} bytes for 200 partial frames of 16 bytes`);
    assert.equal(decoders.length, 200);
  });
});

describe('oversized: control messages', () => {
  test('a control message above 64 KiB is rejected', () => {
    const padding = 'x'.repeat(MAX_CONTROL_MESSAGE_BYTES);
    const body = Buffer.from(JSON.stringify({ type: 'bye', padding }));
    expectCode(() => parseSenderMessage(body), 'PROTOCOL_LIMIT_EXCEEDED', 'sender message of 64 KiB + 20');
    expectCode(() => parseReceiverMessage(body), 'PROTOCOL_LIMIT_EXCEEDED', 'receiver message of 64 KiB + 20');
    expectCode(() => encodeMessage({ type: 'error', code: 'USAGE', message: padding }), 'PROTOCOL_LIMIT_EXCEEDED', 'encoding a 64 KiB message');
  });

  test('each message field above its limit is rejected', () => {
    const transferId = 'a'.repeat(32);
    const offer = { type: 'offer', transferId, name: 'a', path: 'a', size: 1, headerSize: 100, plaintextSize: 0 };
    const sender: Array<[string, Record<string, unknown>]> = [
      ['17 versions', { type: 'hello', versions: new Array(17).fill(1), software: 'x' }],
      ['version 65536', { type: 'hello', versions: [65536], software: 'x' }],
      ['software of 65 characters', { type: 'hello', versions: [1], software: 'x'.repeat(65) }],
      ['username of 257 characters', { type: 'login', username: 'u'.repeat(257), password: 'p' }],
      ['password of 1,025 characters', { type: 'login', username: 'u', password: 'p'.repeat(1025) }],
      ['password of 1,025 emoji', { type: 'login', username: 'u', password: '😀'.repeat(1025) }],
      ['name of 1,025 characters', { ...offer, name: 'n'.repeat(1025) }],
      ['path of 4,097 characters', { ...offer, path: 'p'.repeat(4097) }],
      ['headerSize of 65,537', { ...offer, headerSize: MAX_HEADER_BYTES + 1 }],
      ['size of 2^53', { ...offer, size: 2 ** 53 }],
      ['negative size', { ...offer, size: -1 }],
      ['fractional size', { ...offer, size: 1.5 }],
      ['transferId of 33 digits', { ...offer, transferId: 'a'.repeat(33) }],
      ['error message of 1,025 characters', { type: 'error', code: 'USAGE', message: 'm'.repeat(1025) }],
    ];
    for (const [what, message] of sender) {
      expectCode(() => parseSenderMessage(Buffer.from(JSON.stringify(message))), 'PROTOCOL_VIOLATION', what);
    }
    const receiver: Array<[string, Record<string, unknown>]> = [
      ['public key of 8,193 characters', { type: 'login-ok', publicKey: 'k'.repeat(8193) }],
      ['entryId of 129 characters', { type: 'confirmed', transferId, entryId: 'e'.repeat(129) }],
      ['reject message of 1,025 characters', { type: 'reject', transferId, code: 'DISK_FULL', message: 'm'.repeat(1025) }],
      ['offset of 2^53', { type: 'committed', transferId, offset: 2 ** 53 }],
    ];
    for (const [what, message] of receiver) {
      expectCode(() => parseReceiverMessage(Buffer.from(JSON.stringify(message))), 'PROTOCOL_VIOLATION', what);
    }
  });

  test('fields at their limits are accepted', () => {
    const login = parseSenderMessage(Buffer.from(JSON.stringify({ type: 'login', username: 'u'.repeat(256), password: 'p'.repeat(1024) })));
    assert.equal(login.type, 'login');
    const offer = parseSenderMessage(Buffer.from(JSON.stringify({
      type: 'offer', transferId: 'b'.repeat(32), name: 'n'.repeat(1024), path: 'p'.repeat(4096), size: 2 ** 53 - 1, headerSize: MAX_HEADER_BYTES, plaintextSize: 0,
    })));
    assert.equal(offer.type, 'offer');
  });

  test('field limits count code points, not UTF-16 units', () => {
    // An emoji is one code point and two UTF-16 units; the protocol counts code points.
    const login = (password: string): Buffer => Buffer.from(JSON.stringify({ type: 'login', username: 'u', password }));
    assert.equal(parseSenderMessage(login('😀'.repeat(1024))).type, 'login', '1,024 emoji are 1,024 characters');
    expectCode(() => parseSenderMessage(login('😀'.repeat(1025))), 'PROTOCOL_VIOLATION', '1,025 emoji');
    const offer = (name: string): Buffer => Buffer.from(JSON.stringify({ type: 'offer', transferId: 'c'.repeat(32), name, path: name, size: 1, headerSize: 100, plaintextSize: 0 }));
    assert.equal(parseSenderMessage(offer('😀'.repeat(700))).type, 'offer', 'a name of 700 emoji');
  });

  test('deeply nested JSON is rejected without a stack overflow', () => {
    const depth = Math.floor((MAX_CONTROL_MESSAGE_BYTES - 40) / 2);
    const body = Buffer.from(`{"type":"bye","x":${'['.repeat(depth)}${']'.repeat(depth)}}`);
    assert.ok(body.length <= MAX_CONTROL_MESSAGE_BYTES);
    // Unknown fields are ignored, so the message may pass; what matters is a result or a typed error.
    try {
      assert.equal(parseSenderMessage(body).type, 'bye');
    } catch (error) {
      assert.ok(isSftError(error), `nested JSON: ${describeError(error)}`);
    }
  });
});

describe('oversized: envelope headers', () => {
  let valid: Buffer;

  async function header(): Promise<Buffer> {
    if (!valid) {
      const { publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
      valid = (await EnvelopeWriter.create([{ kind: 'rsa', publicKey }], { name: 'a', size: 0, mtimeMs: null })).header;
    }
    return Buffer.from(valid);
  }

  /** Returns a source of `total` bytes made on demand, and a count of the bytes it delivered. */
  function endlessSource(prefix: Buffer, total: number): { source: Readable; delivered: () => number } {
    let delivered = 0;
    const source = new Readable({
      read() {
        if (delivered >= total) {
          this.push(null);
          return;
        }
        const piece = delivered === 0 ? prefix : Buffer.alloc(Math.min(64 * 1024, total - delivered));
        delivered += piece.length;
        this.push(piece);
      },
    });
    return { source, delivered: () => delivered };
  }

  test('a header length above 64 KiB is rejected after nine bytes', async () => {
    for (const announced of [MAX_HEADER_BYTES + 1, 0x7fff_ffff, 0xffff_ffff]) {
      const prefix = (await header()).subarray(0, HEADER_PREFIX_BYTES);
      prefix.writeUInt32BE(announced, 5);
      const { source, delivered } = endlessSource(prefix, 4 * 1024 * 1024 * 1024);
      await assert.rejects(openEnvelope(source, { privateKeys: [] }), (error: unknown) => {
        assert.ok(isSftError(error, 'ENVELOPE_LIMIT_EXCEEDED'), `header length ${announced}: ${describeError(error)}`);
        return true;
      });
      assert.ok(delivered() <= 256 * 1024, `header length ${announced}: the reader asked for ${delivered()} bytes`);
    }
  });

  test('a header of exactly 64 KiB is read and no more', async () => {
    // A header that announces the maximum but contains garbage: the reader takes 64 KiB, then fails on structure.
    const prefix = (await header()).subarray(0, HEADER_PREFIX_BYTES);
    prefix.writeUInt32BE(MAX_HEADER_BYTES, 5);
    const { source, delivered } = endlessSource(prefix, 1024 * 1024 * 1024);
    await assert.rejects(readHeader(source), (error: unknown) => isSftError(error, 'ENVELOPE_MALFORMED', 'ENVELOPE_LIMIT_EXCEEDED'));
    assert.ok(delivered() <= MAX_HEADER_BYTES + 256 * 1024, `the reader asked for ${delivered()} bytes`);
  });

  test('counts and lengths above each header limit are rejected', async () => {
    const base = await header();
    // Offsets in an RSA-only header: 25 stanza count, 26 type, 27 body length, 29 fingerprint,
    // 61 ciphertext length, 63 ciphertext, then metadata length.
    const metadataLengthOffset = 29 + base.readUInt16BE(27);
    const cases: Array<[string, (bytes: Buffer) => void]> = [
      [`${MAX_STANZAS + 1} stanzas`, (bytes) => { bytes[25] = MAX_STANZAS + 1; }],
      ['0 stanzas', (bytes) => { bytes[25] = 0; }],
      [`stanza body of ${MAX_STANZA_BODY_BYTES + 1} bytes`, (bytes) => { bytes.writeUInt16BE(MAX_STANZA_BODY_BYTES + 1, 27); }],
      ['stanza body of 65,535 bytes', (bytes) => { bytes.writeUInt16BE(0xffff, 27); }],
      ['RSA ciphertext of 513 bytes', (bytes) => { bytes.writeUInt16BE(513, 61); }],
      ['RSA ciphertext of 255 bytes', (bytes) => { bytes.writeUInt16BE(255, 61); }],
      [`metadata of ${MAX_SEALED_METADATA_BYTES + 1} bytes`, (bytes) => { bytes.writeUInt16BE(MAX_SEALED_METADATA_BYTES + 1, metadataLengthOffset); }],
      ['metadata of 16 bytes', (bytes) => { bytes.writeUInt16BE(16, metadataLengthOffset); }],
      ['header length of 99', (bytes) => { bytes.writeUInt32BE(99, 5); }],
    ];
    for (const [what, change] of cases) {
      const bytes = Buffer.from(base);
      change(bytes);
      await assert.rejects(readHeader(Readable.from([bytes], { objectMode: false })), (error: unknown) => {
        assert.ok(isSftError(error, 'ENVELOPE_LIMIT_EXCEEDED', 'ENVELOPE_MALFORMED'), `${what}: ${describeError(error)}`);
        return true;
      });
    }
  });

  test('PBKDF2 iteration counts outside 100,000..10,000,000 are rejected', async () => {
    const { publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const writer = await EnvelopeWriter.create([{ kind: 'passphrase+rsa', passphrase: 'p', publicKey, iterations: 100_000 }], { name: 'a', size: 0, mtimeMs: null });
    // Offsets in a passphrase+RSA header: 29 fingerprint, 61 salt length, 62 salt, then the count.
    const iterationsOffset = 62 + writer.header[61];
    assert.equal(writer.header.readUInt32BE(iterationsOffset), 100_000);
    for (const iterations of [10_000_001, 0xffff_ffff, 99_999, 0]) {
      const bytes = Buffer.from(writer.header);
      bytes.writeUInt32BE(iterations, iterationsOffset);
      const started = Date.now();
      await assert.rejects(openEnvelope(Readable.from([bytes], { objectMode: false }), { passphrase: 'p', privateKeys: [] }), (error: unknown) => {
        assert.ok(isSftError(error, 'ENVELOPE_LIMIT_EXCEEDED'), `${iterations} iterations: ${describeError(error)}`);
        return true;
      });
      assert.ok(Date.now() - started < 1000, `${iterations} iterations: the rejection took ${Date.now() - started} ms`);
    }
  });
});
