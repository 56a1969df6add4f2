/**
 * Envelope bytes of one file, produced on the fly from any offset.
 *
 * An EnvelopeWriter produces the same bytes every time, so the envelope can be encrypted
 * again from the chunk that contains an offset, instead of being kept in memory or in a
 * temporary file. Memory stays at a few chunks whatever the file size.
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SftError } from '../errors';
import { CHUNK_SIZE, EnvelopeWriter, SEALED_CHUNK_SIZE } from '../crypto';

/** Plaintext bytes read from the file at a time. */
const READ_BYTES = 256 * 1024;

/**
 * Yields the envelope of `file` (whose plaintext is `plaintextSize` bytes) from byte
 * `offset` to its end. Throws IO_FAILED when the file cannot be read or is shorter than
 * `plaintextSize`.
 */
export async function* envelopeBytes(writer: EnvelopeWriter, file: string, plaintextSize: number, offset: number): AsyncGenerator<Buffer> {
  const header = writer.header;
  const total = writer.sizeFor(plaintextSize);
  if (!Number.isSafeInteger(offset) || offset < 0 || offset > total) {
    throw new SftError('PROTOCOL_VIOLATION', `Offset ${offset} is outside the ${total}-byte envelope of ${file}.`);
  }
  if (offset === total) {
    return;
  }

  let startChunk = 0;
  let skip = 0;
  if (offset < header.length) {
    yield header.subarray(offset);
  } else {
    const lastChunk = Math.max(0, Math.ceil(plaintextSize / CHUNK_SIZE) - 1);
    startChunk = Math.min(Math.floor((offset - header.length) / SEALED_CHUNK_SIZE), lastChunk);
    skip = offset - writer.payloadOffset(startChunk);
  }

  const plaintextStart = startChunk * CHUNK_SIZE;
  const source =
    plaintextSize > plaintextStart
      ? createReadStream(file, { start: plaintextStart, end: plaintextSize - 1, highWaterMark: READ_BYTES })
      : Readable.from([]);
  const sealer = writer.createPayloadStream(startChunk);
  const piping = pipeline(source, sealer).catch(() => undefined);

  let produced = writer.payloadOffset(startChunk);
  try {
    for await (const piece of sealer as AsyncIterable<Buffer>) {
      produced += piece.length;
      if (skip >= piece.length) {
        skip -= piece.length;
        continue;
      }
      yield skip > 0 ? piece.subarray(skip) : piece;
      skip = 0;
    }
  } catch (error) {
    throw new SftError('IO_FAILED', `Cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`, { cause: error });
  } finally {
    source.destroy();
    sealer.destroy();
    await piping;
  }

  if (produced !== total) {
    throw new SftError('IO_FAILED', `${file} changed while it was being sent: expected ${plaintextSize} bytes. Send it again once it no longer changes.`);
  }
}
