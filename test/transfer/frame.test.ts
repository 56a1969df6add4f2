import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSftError } from '../../src/errors';
import {
  FRAME_HEADER_BYTES,
  FrameDecoder,
  MAX_CONTROL_MESSAGE_BYTES,
  MAX_DATA_FRAME_BYTES,
  encodeControlFrame,
  encodeDataFrame,
} from '../../src/transfer/frame';

function header(length: number, type: number): Buffer {
  const bytes = Buffer.alloc(FRAME_HEADER_BYTES);
  bytes.writeUInt32BE(length, 0);
  bytes[4] = type;
  return bytes;
}

test('frames decode one byte at a time', () => {
  const control = encodeControlFrame(Buffer.from('{"type":"bye"}'));
  const data = encodeDataFrame(Buffer.from([1, 2, 3]));
  const stream = Buffer.concat([control, data, control]);
  const decoder = new FrameDecoder();
  const frames = [];
  for (const byte of stream) {
    frames.push(...decoder.push(Buffer.from([byte])));
  }
  assert.equal(frames.length, 3);
  assert.equal(frames[0].type, 'control');
  assert.equal(frames[0].body.toString(), '{"type":"bye"}');
  assert.equal(frames[1].type, 'data');
  assert.deepEqual([...frames[1].body], [1, 2, 3]);
  assert.equal(frames[2].type, 'control');
  assert.ok(decoder.idle);
});

test('frames decode from one large chunk', () => {
  const parts = [];
  for (let i = 0; i < 50; i++) {
    parts.push(encodeDataFrame(Buffer.alloc(1000 + i, i)));
  }
  const frames = new FrameDecoder().push(Buffer.concat(parts));
  assert.equal(frames.length, 50);
  frames.forEach((frame, i) => {
    assert.equal(frame.body.length, 1000 + i);
    assert.equal(frame.body[0], i);
  });
});

test('oversized control frame rejected from header', () => {
  const decoder = new FrameDecoder();
  assert.throws(
    () => decoder.push(header(MAX_CONTROL_MESSAGE_BYTES + 1, 1)),
    (error) => isSftError(error, 'PROTOCOL_LIMIT_EXCEEDED'),
  );
  // The decoder stays failed, even for valid input.
  assert.throws(() => decoder.push(encodeControlFrame(Buffer.from('{}'))), (error) => isSftError(error, 'PROTOCOL_LIMIT_EXCEEDED'));
});

test('oversized data frame rejected from header', () => {
  assert.throws(
    () => new FrameDecoder().push(header(MAX_DATA_FRAME_BYTES + 1, 2)),
    (error) => isSftError(error, 'PROTOCOL_LIMIT_EXCEEDED'),
  );
  assert.throws(() => new FrameDecoder().push(header(0xffffffff, 2)), (error) => isSftError(error, 'PROTOCOL_LIMIT_EXCEEDED'));
});

test('empty and unknown frames rejected', () => {
  assert.throws(() => new FrameDecoder().push(header(0, 2)), (error) => isSftError(error, 'PROTOCOL_LIMIT_EXCEEDED'));
  assert.throws(() => new FrameDecoder().push(header(1, 1)), (error) => isSftError(error, 'PROTOCOL_LIMIT_EXCEEDED'));
  assert.throws(() => new FrameDecoder().push(header(5, 3)), (error) => isSftError(error, 'PROTOCOL_VIOLATION'));
  assert.throws(() => new FrameDecoder().push(header(5, 0)), (error) => isSftError(error, 'PROTOCOL_VIOLATION'));
});

test('data frames rejected when disabled', () => {
  const decoder = new FrameDecoder();
  decoder.setLimits({ maxDataFrameBytes: 0 });
  assert.throws(() => decoder.push(header(10, 2)), (error) => isSftError(error, 'PROTOCOL_VIOLATION'));
});

test('announced length allocates nothing ahead', () => {
  // A frame that announces 1 MiB but sends 10 bytes keeps only those 10 bytes.
  const decoder = new FrameDecoder();
  const before = process.memoryUsage().arrayBuffers;
  for (let i = 0; i < 200; i++) {
    const one = new FrameDecoder();
    one.push(Buffer.concat([header(MAX_DATA_FRAME_BYTES, 2), Buffer.alloc(10)]));
  }
  const after = process.memoryUsage().arrayBuffers;
  assert.ok(after - before < 50 * 1024 * 1024, `grew by ${after - before} bytes`);
  assert.deepEqual(decoder.push(Buffer.alloc(0)), []);
});

test('encoders reject bad sizes', () => {
  assert.throws(() => encodeDataFrame(Buffer.alloc(0)), (error) => isSftError(error, 'PROTOCOL_LIMIT_EXCEEDED'));
  assert.throws(() => encodeDataFrame(Buffer.alloc(MAX_DATA_FRAME_BYTES + 1)), (error) => isSftError(error, 'PROTOCOL_LIMIT_EXCEEDED'));
  assert.throws(() => encodeControlFrame(Buffer.alloc(MAX_CONTROL_MESSAGE_BYTES + 1)), (error) => isSftError(error, 'PROTOCOL_LIMIT_EXCEEDED'));
});

test('seeded random input ends in frames or typed error', () => {
  let seed = 12345;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const valid = Buffer.concat([encodeControlFrame(Buffer.from('{"type":"bye"}')), encodeDataFrame(Buffer.alloc(300, 7))]);
  for (let round = 0; round < 2000; round++) {
    const input = Buffer.from(valid);
    const flips = 1 + Math.floor(random() * 4);
    for (let i = 0; i < flips; i++) {
      input[Math.floor(random() * input.length)] = Math.floor(random() * 256);
    }
    const decoder = new FrameDecoder();
    try {
      let offset = 0;
      while (offset < input.length) {
        const size = 1 + Math.floor(random() * 40);
        decoder.push(input.subarray(offset, offset + size));
        offset += size;
      }
    } catch (error) {
      assert.ok(isSftError(error, 'PROTOCOL_VIOLATION', 'PROTOCOL_LIMIT_EXCEEDED'), String(error));
    }
  }
});
