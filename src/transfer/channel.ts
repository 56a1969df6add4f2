/**
 * A framed channel over one TLS socket, shared by the receiver and the sender.
 *
 * Incoming bytes go through a FrameDecoder into a bounded queue that `next()` reads from.
 * When the queue contains more than MAX_QUEUED_BYTES, the socket is paused, so a fast peer
 * waits for a slow disk instead of filling memory. Writes wait for 'drain'.
 */
import * as tls from 'node:tls';
import { SftError } from '../errors';
import { Frame, FrameDecoder, FrameLimits, dataFrameHeader } from './frame';
import { ReceiverMessage, SenderMessage, encodeMessage } from './messages';

/** Decoded bytes queued before the socket is paused: two maximum data frames. */
export const MAX_QUEUED_BYTES = 2 * 1024 * 1024;
/** How long a closing side waits for the peer to close its half before it cuts the connection. */
export const CLOSE_GRACE_MS = 2000;

interface Waiter {
  resolve(frame: Frame): void;
  reject(error: SftError): void;
  timer: NodeJS.Timeout | undefined;
}

/** One side of a connection: reads frames in order and writes messages and data frames. */
export class FrameChannel {
  readonly decoder: FrameDecoder;
  private readonly queue: Frame[] = [];
  private queuedBytes = 0;
  private waiter: Waiter | undefined;
  private failure: SftError | undefined;
  private readonly closeListeners: (() => void)[] = [];
  private corked = false;

  constructor(
    readonly socket: tls.TLSSocket,
    limits: FrameLimits,
    /** Names the peer in errors, for example "receiver 127.0.0.1:7443". */
    private readonly peer: string,
  ) {
    this.decoder = new FrameDecoder(limits);
    // Each file is a few small request and reply messages. With Nagle's algorithm a small
    // write waits for the peer's delayed ACK (about 40 ms on Linux) whenever an earlier one
    // is still unacknowledged.
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.fail(new SftError('CONNECTION_FAILED', `The ${peer} closed the connection.`)));
    socket.on('close', () => {
      this.fail(new SftError('CONNECTION_FAILED', `The connection to the ${peer} was closed.`));
      for (const listener of this.closeListeners.splice(0)) {
        listener();
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.fail(new SftError('CONNECTION_FAILED', `The connection to the ${peer} failed: ${error.code ?? error.message}.`, { cause: error }));
    });
  }

  /** The error that ended the channel, if it ended. */
  get error(): SftError | undefined {
    return this.failure;
  }

  get closed(): boolean {
    return this.socket.destroyed;
  }

  /**
   * Returns the next frame. Rejects with the channel's error once it failed or closed, and
   * with SftError('TIMEOUT') when no frame arrives within `timeoutMs` (0: no timeout).
   * Only one call may wait at a time.
   */
  next(timeoutMs: number, what = 'a message'): Promise<Frame> {
    const frame = this.queue.shift();
    if (frame !== undefined) {
      this.queuedBytes -= frame.body.length;
      if (this.queuedBytes <= MAX_QUEUED_BYTES && this.socket.isPaused()) {
        this.socket.resume();
      }
      return Promise.resolve(frame);
    }
    if (this.failure) {
      return Promise.reject(this.failure);
    }
    if (this.waiter) {
      throw new Error('Internal error: FrameChannel.next() called while another call waits.');
    }
    if (this.socket.isPaused()) {
      this.socket.resume();
    }
    return new Promise<Frame>((resolve, reject) => {
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              this.waiter = undefined;
              reject(new SftError('TIMEOUT', `Timed out after ${timeoutMs} ms waiting for ${what} from the ${this.peer}.`));
            }, timeoutMs)
          : undefined;
      this.waiter = { resolve, reject, timer };
    });
  }

  /** Sends a control message and resolves once the socket accepted it or buffered it below its high-water mark. */
  send(message: SenderMessage | ReceiverMessage): Promise<void> {
    return this.write(encodeMessage(message));
  }

  /** Sends one data frame. */
  sendData(body: Buffer): Promise<void> {
    // Header and body go out as two writes of one corked batch, so the body is never copied.
    const header = dataFrameHeader(body);
    void this.write(header).catch(() => undefined);
    return this.write(body);
  }

  /**
   * Sends `message` if the socket is still writable, ends the connection, and resolves once
   * the socket closed. Never rejects.
   */
  closeWith(message?: SenderMessage | ReceiverMessage): Promise<void> {
    if (this.socket.destroyed) {
      return Promise.resolve();
    }
    if (message !== undefined && this.socket.writable) {
      try {
        this.socket.write(encodeMessage(message));
      } catch {
        // The socket closed meanwhile; nothing more to tell the peer.
      }
    }
    this.socket.end();
    // A peer that never reads would keep the socket half-open; give it a moment, then cut.
    const timer = setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS);
    return new Promise((resolve) => {
      this.onClose(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Closes the socket at once and fails every pending read with `error`. */
  destroy(error: SftError): void {
    this.fail(error);
    this.socket.destroy();
  }

  /** Calls `listener` once the socket closed (at once if it already did). */
  onClose(listener: () => void): void {
    if (this.socket.destroyed) {
      listener();
    } else {
      this.closeListeners.push(listener);
    }
  }

  /**
   * Writes `bytes`. Writes made in one turn of the event loop are corked together, so a
   * file's offer, data and `end` leave as one TLS write instead of three.
   */
  private write(bytes: Buffer): Promise<void> {
    if (this.failure) {
      return Promise.reject(this.failure);
    }
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    if (this.socket.write(bytes)) {
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const onDrain = (): void => {
        cleanup();
        resolve();
      };
      const onClose = (): void => {
        cleanup();
        reject(this.failure ?? new SftError('CONNECTION_FAILED', `The connection to the ${this.peer} was closed while sending.`));
      };
      const cleanup = (): void => {
        this.socket.off('drain', onDrain);
        this.socket.off('close', onClose);
      };
      this.socket.on('drain', onDrain);
      this.socket.on('close', onClose);
    });
  }

  private onData(chunk: Buffer): void {
    if (this.failure) {
      return;
    }
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (error) {
      this.fail(error as SftError);
      return;
    }
    for (const frame of frames) {
      if (this.waiter) {
        const { resolve, timer } = this.waiter;
        this.waiter = undefined;
        clearTimeout(timer);
        resolve(frame);
      } else {
        this.queue.push(frame);
        this.queuedBytes += frame.body.length;
      }
    }
    if (this.queuedBytes > MAX_QUEUED_BYTES) {
      this.socket.pause();
    }
  }

  private fail(error: SftError): void {
    if (this.failure) {
      return;
    }
    this.failure = error;
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
  }
}
