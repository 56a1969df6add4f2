/**
 * Frames of the transfer protocol: a 4-byte body length, a 1-byte type, then the body.
 *
 * docs/PROTOCOL.md ("Frames") is the specification. The decoder is an incremental state
 * machine that checks every length against its limit before it keeps any body bytes.
 */
import { SftError } from '../errors';

export const FRAME_HEADER_BYTES = 5;
export const MAX_CONTROL_MESSAGE_BYTES = 64 * 1024;
export const MAX_DATA_FRAME_BYTES = 1024 * 1024;
/** The shortest JSON object, `{}`. */
export const MIN_CONTROL_MESSAGE_BYTES = 2;

export const FrameType = {
  control: 0x01,
  data: 0x02,
} as const;

export type Frame = { type: 'control'; body: Buffer } | { type: 'data'; body: Buffer };

/** Limits of one decoder. A limit of 0 rejects every frame of that type. */
export interface FrameLimits {
  maxControlMessageBytes: number;
  maxDataFrameBytes: number;
}

export const DEFAULT_FRAME_LIMITS: FrameLimits = {
  maxControlMessageBytes: MAX_CONTROL_MESSAGE_BYTES,
  maxDataFrameBytes: MAX_DATA_FRAME_BYTES,
};

/** Encodes one control frame around `body`, which is UTF-8 JSON. */
export function encodeControlFrame(body: Buffer): Buffer {
  if (body.length < MIN_CONTROL_MESSAGE_BYTES || body.length > MAX_CONTROL_MESSAGE_BYTES) {
    throw new SftError('PROTOCOL_LIMIT_EXCEEDED', `A control message of ${body.length} bytes is outside ${MIN_CONTROL_MESSAGE_BYTES}..${MAX_CONTROL_MESSAGE_BYTES} bytes.`);
  }
  return encodeFrame(FrameType.control, body);
}

/** Encodes one data frame around `body`, which contains 1 to MAX_DATA_FRAME_BYTES envelope bytes. */
export function encodeDataFrame(body: Buffer): Buffer {
  return Buffer.concat([dataFrameHeader(body), body]);
}

/** Returns the five header bytes of a data frame that carries `body`; the body follows them unchanged. */
export function dataFrameHeader(body: Buffer): Buffer {
  if (body.length < 1 || body.length > MAX_DATA_FRAME_BYTES) {
    throw new SftError('PROTOCOL_LIMIT_EXCEEDED', `A data frame of ${body.length} bytes is outside 1..${MAX_DATA_FRAME_BYTES} bytes.`);
  }
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32BE(body.length, 0);
  header[4] = FrameType.data;
  return header;
}

function encodeFrame(type: number, body: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  frame.writeUInt32BE(body.length, 0);
  frame[4] = type;
  body.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

type DecoderState = 'header' | 'body' | 'failed';

/**
 * Splits a byte stream into frames.
 *
 * `push()` returns the frames that the new bytes completed and throws an SftError with
 * `PROTOCOL_VIOLATION` or `PROTOCOL_LIMIT_EXCEEDED` on the first bad frame; after that the
 * decoder stays failed and rethrows. Body bytes are kept as slices of the input and joined
 * once the frame is complete, so memory grows with the bytes received, never with the
 * length a peer announces.
 */
export class FrameDecoder {
  private state: DecoderState = 'header';
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerFilled = 0;
  private bodyType: Frame['type'] = 'control';
  private bodyLength = 0;
  private bodyParts: Buffer[] = [];
  private bodyFilled = 0;
  private failure: SftError | undefined;
  private limits: FrameLimits;

  constructor(limits: FrameLimits = DEFAULT_FRAME_LIMITS) {
    this.limits = { ...limits };
  }

  /** Changes the limits for frames whose header has not been read yet. */
  setLimits(limits: Partial<FrameLimits>): void {
    this.limits = { ...this.limits, ...limits };
  }

  /** Returns true when no partial frame is buffered. */
  get idle(): boolean {
    return this.state === 'header' && this.headerFilled === 0;
  }

  push(chunk: Buffer): Frame[] {
    if (this.failure) {
      throw this.failure;
    }
    try {
      return this.consume(chunk);
    } catch (error) {
      this.state = 'failed';
      this.bodyParts = [];
      this.failure = error instanceof SftError ? error : new SftError('PROTOCOL_VIOLATION', 'The frame decoder failed on malformed input.', { cause: error });
      throw this.failure;
    }
  }

  private consume(chunk: Buffer): Frame[] {
    const frames: Frame[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      if (this.state === 'header') {
        const take = Math.min(FRAME_HEADER_BYTES - this.headerFilled, chunk.length - offset);
        chunk.copy(this.header, this.headerFilled, offset, offset + take);
        this.headerFilled += take;
        offset += take;
        if (this.headerFilled === FRAME_HEADER_BYTES) {
          this.startBody();
        }
      } else {
        const take = Math.min(this.bodyLength - this.bodyFilled, chunk.length - offset);
        this.bodyParts.push(chunk.subarray(offset, offset + take));
        this.bodyFilled += take;
        offset += take;
      }

      if (this.state === 'body' && this.bodyFilled === this.bodyLength) {
        frames.push(this.finishBody());
      }
    }
    return frames;
  }

  private startBody(): void {
    const length = this.header.readUInt32BE(0);
    const typeByte = this.header[4];
    let min: number;
    let max: number;
    if (typeByte === FrameType.control) {
      this.bodyType = 'control';
      min = MIN_CONTROL_MESSAGE_BYTES;
      max = this.limits.maxControlMessageBytes;
    } else if (typeByte === FrameType.data) {
      this.bodyType = 'data';
      min = 1;
      max = this.limits.maxDataFrameBytes;
    } else {
      throw new SftError('PROTOCOL_VIOLATION', `Unknown frame type 0x${typeByte.toString(16).padStart(2, '0')}; the peer does not speak this protocol.`);
    }
    if (max === 0) {
      throw new SftError('PROTOCOL_VIOLATION', `A ${this.bodyType} frame is not allowed at this point of the protocol.`);
    }
    if (length < min || length > max) {
      throw new SftError('PROTOCOL_LIMIT_EXCEEDED', `A ${this.bodyType} frame announced ${length} bytes, outside the allowed ${min}..${max} bytes.`);
    }
    this.state = 'body';
    this.bodyLength = length;
    this.bodyFilled = 0;
    this.bodyParts = [];
  }

  private finishBody(): Frame {
    const body = this.bodyParts.length === 1 ? this.bodyParts[0] : Buffer.concat(this.bodyParts, this.bodyLength);
    this.state = 'header';
    this.headerFilled = 0;
    this.bodyParts = [];
    return { type: this.bodyType, body };
  }
}
