import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSftError } from '../../src/errors';
import { FrameDecoder } from '../../src/transfer/frame';
import { MAX_EAGER_ENVELOPE_BYTES, encodeMessage, parseReceiverMessage, parseSenderMessage, printable } from '../../src/transfer/messages';

const transferId = '0123456789abcdef0123456789abcdef';
const sha256 = 'a'.repeat(64);

function body(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

function rejectsSender(value: unknown, label: string): void {
  assert.throws(() => parseSenderMessage(body(value)), (error) => isSftError(error, 'PROTOCOL_VIOLATION'), label);
}

test('messages round-trip through frames', () => {
  const offer = { type: 'offer' as const, transferId, name: 'a.txt', path: 'dir/a.txt', size: 200, headerSize: 150, plaintextSize: 34 };
  const frames = new FrameDecoder().push(encodeMessage(offer));
  assert.equal(frames.length, 1);
  assert.deepEqual(parseSenderMessage(frames[0].body), offer);

  const accept = { type: 'accept' as const, transferId, offset: 42 };
  assert.deepEqual(parseReceiverMessage(new FrameDecoder().push(encodeMessage(accept))[0].body), accept);
});

test('sender messages checked field by field', () => {
  const offer = { type: 'offer', transferId, name: 'a', path: 'a', size: 200, headerSize: 150, plaintextSize: 34 };
  parseSenderMessage(body(offer));
  rejectsSender({ ...offer, transferId: 'XYZ' }, 'short id');
  rejectsSender({ ...offer, transferId: transferId.toUpperCase() }, 'uppercase id');
  rejectsSender({ ...offer, size: -1 }, 'negative size');
  rejectsSender({ ...offer, size: 1.5 }, 'fractional size');
  rejectsSender({ ...offer, size: '200' }, 'size as string');
  rejectsSender({ ...offer, size: 2 ** 60 }, 'unsafe integer');
  rejectsSender({ ...offer, headerSize: 99 }, 'header too small');
  rejectsSender({ ...offer, name: 'x'.repeat(1025) }, 'long name');
  rejectsSender({ ...offer, path: undefined }, 'missing path');
  rejectsSender({ type: 'login', username: 'u' }, 'missing password');
  rejectsSender({ type: 'login', username: 'u', password: 'p'.repeat(1025) }, 'long password');
  rejectsSender({ type: 'hello', versions: [], software: '' }, 'no versions');
  rejectsSender({ type: 'hello', versions: [0], software: '' }, 'version zero');
  rejectsSender({ type: 'hello', versions: new Array(17).fill(1), software: '' }, 'too many versions');
  rejectsSender({ type: 'end', transferId, sha256: 'g'.repeat(64) }, 'bad hash');
  rejectsSender({ type: 'committed', transferId, offset: 1 }, 'receiver-only type');
  rejectsSender({ type: 'nope' }, 'unknown type');
  rejectsSender([1, 2], 'array');
  rejectsSender(null, 'null');
  rejectsSender('text', 'string');
  assert.throws(() => parseSenderMessage(Buffer.from('{"type":')), (error) => isSftError(error, 'PROTOCOL_VIOLATION'));
  assert.throws(() => parseSenderMessage(Buffer.from([0x7b, 0xff, 0x7d])), (error) => isSftError(error, 'PROTOCOL_VIOLATION'));
});

test('eager offers only up to the limit', () => {
  const offer = { type: 'offer', transferId, name: 'a', path: 'a', size: MAX_EAGER_ENVELOPE_BYTES, headerSize: 150, plaintextSize: 34 };
  const parsed = parseSenderMessage(body({ ...offer, eager: true }));
  assert.equal(parsed.type === 'offer' && parsed.eager, true);
  assert.equal('eager' in parseSenderMessage(body({ ...offer, eager: false })), false);
  rejectsSender({ ...offer, size: MAX_EAGER_ENVELOPE_BYTES + 1, eager: true }, 'eager above the limit');
  rejectsSender({ ...offer, eager: 'yes' }, 'eager not a boolean');
});

test('receiver messages checked field by field', () => {
  const rejects = (value: unknown, label: string): void => {
    assert.throws(() => parseReceiverMessage(body(value)), (error) => isSftError(error, 'PROTOCOL_VIOLATION'), label);
  };
  rejects({ type: 'accept', transferId, offset: -5 }, 'negative offset');
  rejects({ type: 'reject', transferId, code: 'SOMETHING', message: '' }, 'unknown reject code');
  rejects({ type: 'login-failed', reason: 'maybe', message: '' }, 'unknown reason');
  rejects({ type: 'login-ok', publicKey: 'k'.repeat(9000) }, 'long key');
  rejects({ type: 'offer', transferId }, 'sender-only type');
  rejects({ type: 'confirmed', transferId, entryId: '' }, 'empty entry id');
  assert.deepEqual(parseReceiverMessage(body({ type: 'committed', transferId, offset: 10 })), { type: 'committed', transferId, offset: 10 });
  assert.deepEqual(parseReceiverMessage(body({ type: 'bye' })), { type: 'bye' });
  rejects({ type: 'end', transferId, sha256 }, 'sender-only end');
});

test('unknown fields dropped and unknown error codes mapped', () => {
  const parsed = parseSenderMessage(Buffer.from('{"type":"bye","__proto__":{"polluted":true},"extra":1}'));
  assert.deepEqual(parsed, { type: 'bye' });
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  const error = parseReceiverMessage(body({ type: 'error', code: 'LOGIN_FAILED', message: 'x' }));
  assert.deepEqual(error, { type: 'error', code: 'PROTOCOL_VIOLATION', message: 'x' });
});

test('peer text loses control characters', () => {
  const parsed = parseReceiverMessage(body({ type: 'reject', transferId, code: 'DISK_FULL', message: 'full\u001b[2J\u202eevil' }));
  assert.equal(parsed.type, 'reject');
  assert.equal((parsed as { message: string }).message, 'full?[2J?evil');
  assert.equal(printable('a\nb\u0000c'), 'a?b?c');
});
