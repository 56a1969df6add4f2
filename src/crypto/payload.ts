/**
 * The payload: plaintext sealed in 64 KiB chunks with AES-256-GCM, as Node.js Transforms.
 *
 * The nonce is an 11-byte chunk counter and a last-chunk flag, so reordering, dropping,
 * truncating or appending chunks all make a tag fail. See docs/FORMAT.md, "Payload".
 */
import * as crypto from 'node:crypto';
import { Transform, TransformCallback } from 'node:stream';
import { SftError } from '../errors';
import { CHUNK_SIZE, SEALED_CHUNK_SIZE, TAG_SIZE } from './format';

const NONCE_SIZE = 12;
const LAST_CHUNK_FLAG = 0x01;
/** Counters are written into the low 6 of the 11 counter bytes: 2^48 chunks is 16 EiB, far past any file. */
const COUNTER_BYTES = 6;

function nonceFor(counter: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(NONCE_SIZE);
  nonce.writeUIntBE(counter, NONCE_SIZE - 1 - COUNTER_BYTES, COUNTER_BYTES);
  nonce[NONCE_SIZE - 1] = last ? LAST_CHUNK_FLAG : 0;
  return nonce;
}

/** A queue of buffers read from the front without concatenating them. */
class ByteQueue {
  private parts: Buffer[] = [];
  length = 0;

  push(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.parts.push(bytes);
    this.length += bytes.length;
  }

  /** Removes the first `size` bytes and returns them as a list of slices. */
  shift(size: number): Buffer[] {
    const out: Buffer[] = [];
    let left = size;
    while (left > 0) {
      const head = this.parts[0];
      if (head.length <= left) {
        out.push(head);
        this.parts.shift();
        left -= head.length;
      } else {
        out.push(head.subarray(0, left));
        this.parts[0] = head.subarray(left);
        left = 0;
      }
    }
    this.length -= size;
    return out;
  }
}

/** Seals one chunk, given as `pieces`, and appends its ciphertext and tag to `out`. */
function sealChunk(payloadKey: Buffer, counter: number, last: boolean, pieces: Buffer[], out: Buffer[]): void {
  const cipher = crypto.createCipheriv('aes-256-gcm', payloadKey, nonceFor(counter, last));
  for (const piece of pieces) out.push(cipher.update(piece));
  cipher.final();
  out.push(cipher.getAuthTag());
}

/** Seals a whole plaintext held in memory; the result is what a seal stream would produce. */
export function sealPayload(payloadKey: Buffer, plaintext: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let counter = 0;
  for (let start = 0; start + CHUNK_SIZE < plaintext.length; start += CHUNK_SIZE) {
    sealChunk(payloadKey, counter++, false, [plaintext.subarray(start, start + CHUNK_SIZE)], out);
  }
  sealChunk(payloadKey, counter, true, [plaintext.subarray(counter * CHUNK_SIZE)], out);
  return out;
}

/**
 * Returns a Transform that seals plaintext into chunks, numbering the first one
 * `startChunk`. The input must begin at byte `startChunk * CHUNK_SIZE` of the file.
 */
export function createSealStream(payloadKey: Buffer, startChunk = 0): Transform {
  const queue = new ByteQueue();
  let counter = startChunk;

  const seal = (pieces: Buffer[], last: boolean, out: Buffer[]): void => {
    sealChunk(payloadKey, counter, last, pieces, out);
    counter++;
  };

  return new Transform({
    // A chunk is only known not to be the last once a byte after it arrives, so hold one back.
    transform(data: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      queue.push(data);
      const out: Buffer[] = [];
      while (queue.length > CHUNK_SIZE) {
        seal(queue.shift(CHUNK_SIZE), false, out);
      }
      // Pushed one by one, not concatenated: a file sink writes them with one writev, and
      // a fresh megabyte buffer per read would cost a copy and its page faults.
      for (const piece of out) this.push(piece);
      callback();
    },
    flush(callback: TransformCallback) {
      if (queue.length === 0 && counter !== 0) {
        callback(new Error(`Internal error: the plaintext ended at chunk ${counter}, before the chunk a resumed stream started from.`));
        return;
      }
      const out: Buffer[] = [];
      seal(queue.shift(queue.length), true, out);
      this.push(Buffer.concat(out));
      callback();
    },
  });
}

export interface OpenStreamOptions {
  /** Plaintext size promised by the metadata, checked at the end; null when unknown. */
  expectedSize: number | null;
}

/**
 * Opens one sealed chunk given as consecutive pieces without joining them, so only a tag that
 * is split across pieces gets copied. Returns the plaintext pieces, or undefined when the tag fails.
 */
function tryOpen(payloadKey: Buffer, counter: number, last: boolean, sealed: Buffer[]): Buffer[] | undefined {
  const { ciphertext, tag } = splitTag(sealed);
  const decipher = crypto.createDecipheriv('aes-256-gcm', payloadKey, nonceFor(counter, last));
  decipher.setAuthTag(tag);
  const plaintext = ciphertext.map((piece) => decipher.update(piece));
  try {
    decipher.final();
  } catch {
    return undefined;
  }
  return plaintext;
}

/** Splits the pieces of a sealed chunk (at least TAG_SIZE bytes in all) into ciphertext pieces and the tag. */
function splitTag(sealed: Buffer[]): { ciphertext: Buffer[]; tag: Buffer } {
  const ciphertext = [...sealed];
  const tagParts: Buffer[] = [];
  let tagLeft = TAG_SIZE;
  while (tagLeft > 0) {
    const piece = ciphertext.pop() as Buffer;
    if (piece.length > tagLeft) {
      tagParts.unshift(piece.subarray(piece.length - tagLeft));
      ciphertext.push(piece.subarray(0, piece.length - tagLeft));
      tagLeft = 0;
    } else {
      tagParts.unshift(piece);
      tagLeft -= piece.length;
    }
  }
  return { ciphertext, tag: tagParts.length === 1 ? tagParts[0] : Buffer.concat(tagParts) };
}

/**
 * Returns a Transform that opens sealed chunks and emits plaintext. It fails with a typed
 * SftError on any tampering, truncation or trailing data; plaintext of a chunk is emitted
 * only after that chunk's tag has been verified.
 */
export function createOpenStream(payloadKey: Buffer, options: OpenStreamOptions): Transform {
  const queue = new ByteQueue();
  let counter = 0;
  let plaintextBytes = 0;

  // Sealed chunks rarely line up with the source's reads (64 KiB from a pipe or a default
  // fs stream), so a chunk arrives in pieces and is opened piece by piece, without a copy.
  const openChunk = (sealed: Buffer[]): Buffer[] => {
    const plaintext = tryOpen(payloadKey, counter, false, sealed);
    if (plaintext) return plaintext;
    if (tryOpen(payloadKey, counter, true, sealed)) {
      throw new SftError('ENVELOPE_TRAILING_DATA', `Unexpected data after the last chunk (chunk ${counter}). Bytes were appended to the envelope.`);
    }
    throw new SftError('ENVELOPE_PAYLOAD_TAMPERED', `Chunk ${counter} failed authentication. The envelope was modified or damaged; nothing from it can be trusted.`);
  };

  const openLast = (sealed: Buffer): Buffer => {
    if (sealed.length < TAG_SIZE) {
      throw new SftError('ENVELOPE_TRUNCATED', `The envelope ends inside chunk ${counter}. The file is truncated.`);
    }
    const pieces = tryOpen(payloadKey, counter, true, [sealed]);
    if (pieces) {
      const plaintext = Buffer.concat(pieces);
      if (plaintext.length === 0 && counter !== 0) {
        throw new SftError('ENVELOPE_MALFORMED', `Empty last chunk after chunk ${counter - 1}. No writer produces this; the envelope was crafted or damaged.`);
      }
      return plaintext;
    }
    if (sealed.length === SEALED_CHUNK_SIZE && tryOpen(payloadKey, counter, false, [sealed])) {
      throw new SftError('ENVELOPE_TRUNCATED', `The envelope ends after chunk ${counter}, which is not marked as the last. The file is truncated.`);
    }
    throw new SftError('ENVELOPE_PAYLOAD_TAMPERED', `The last chunk (${counter}) failed authentication. The envelope was truncated, modified or damaged.`);
  };

  return new Transform({
    transform(data: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      queue.push(data);
      const out: Buffer[] = [];
      try {
        while (queue.length > SEALED_CHUNK_SIZE) {
          const plaintext = openChunk(queue.shift(SEALED_CHUNK_SIZE));
          counter++;
          for (const piece of plaintext) {
            plaintextBytes += piece.length;
            out.push(piece);
          }
        }
      } catch (error) {
        callback(error as Error);
        return;
      }
      for (const plaintext of out) this.push(plaintext);
      callback();
    },
    flush(callback: TransformCallback) {
      try {
        if (queue.length === 0) {
          throw new SftError('ENVELOPE_TRUNCATED', counter === 0
            ? 'The envelope has a header but no payload. The file is truncated.'
            : `The envelope ends after chunk ${counter - 1}, which is not marked as the last. The file is truncated.`);
        }
        const plaintext = openLast(Buffer.concat(queue.shift(queue.length)));
        plaintextBytes += plaintext.length;
        if (options.expectedSize !== null && plaintextBytes !== options.expectedSize) {
          throw new SftError('ENVELOPE_PAYLOAD_TAMPERED', `The payload contains ${plaintextBytes} bytes, but the metadata records ${options.expectedSize}. The envelope is inconsistent.`);
        }
        this.push(plaintext);
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
  });
}
