/**
 * The sender's side of one connection: TLS connect, fingerprint pinning, `hello` and `login`,
 * then a read loop that sorts the receiver's messages for the file being sent.
 *
 * The fingerprint check runs after the TLS handshake and before the first frame is written,
 * so no credential reaches a receiver whose certificate was not confirmed.
 */
import * as crypto from 'node:crypto';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { SftError, isSftError } from '../errors';
import { parsePublicKey } from '../crypto';
import { FrameChannel } from './channel';
import { DEFAULT_FRAME_LIMITS } from './frame';
import { certificateFingerprint } from './identity';
import { KnownReceivers } from './known-receivers';
import { formatHostPort } from './link';
import { Committed, PROTOCOL_VERSION, ReceiverMessage, SUPPORTED_VERSIONS, parseReceiverMessage } from './messages';

/** Asked about a receiver seen for the first time; resolve true to trust its fingerprint. */
export type ConfirmFingerprint = (receiver: { hostPort: string; fingerprint: string }) => Promise<boolean>;

export interface ConnectOptions {
  host: string;
  port: number;
  username: string;
  password: string;
  /** A fingerprint the caller pinned (`--trust` or a link); checked instead of the known-receivers file. */
  trust?: string;
  knownReceivers: KnownReceivers;
  confirmFingerprint?: ConfirmFingerprint;
  /** Local address to connect from, for hosts with several addresses. */
  localAddress?: string;
  connectTimeoutMs: number;
  replyTimeoutMs: number;
  software: string;
  signal?: AbortSignal;
  /** Called with the fingerprint once the receiver is verified, before anything is sent. */
  onVerified?: (fingerprint: string) => void;
}

interface MailWaiter {
  types: readonly ReceiverMessage['type'][];
  resolve(message: ReceiverMessage): void;
  reject(error: SftError): void;
  timer: NodeJS.Timeout | undefined;
}

/** A logged-in connection to a receiver. */
export class SenderConnection {
  /** The receiver's RSA public key, as `login-ok` carried it. */
  readonly publicKey: crypto.KeyObject;
  readonly publicKeyPem: string;
  /** Called for each `committed` message. */
  onCommitted: ((message: Committed) => void) | undefined;
  private readonly mailbox: ReceiverMessage[] = [];
  private waiter: MailWaiter | undefined;
  private failure: SftError | undefined;
  private readonly failureListeners: ((error: SftError) => void)[] = [];

  private constructor(
    readonly channel: FrameChannel,
    readonly hostPort: string,
    publicKeyPem: string,
  ) {
    this.publicKeyPem = publicKeyPem;
    this.publicKey = parsePublicKey(publicKeyPem, `the public key of receiver ${hostPort}`);
  }

  /**
   * Connects, verifies the receiver's fingerprint, and logs in. Throws FINGERPRINT_UNKNOWN,
   * FINGERPRINT_CHANGED, LOGIN_FAILED, LOGIN_LOCKED (none worth retrying), or
   * CONNECTION_FAILED and TIMEOUT (worth retrying).
   */
  static async open(options: ConnectOptions): Promise<SenderConnection> {
    const hostPort = formatHostPort(options.host, options.port);
    let socket = await connectTls(options);
    let verdict = await verifyReceiverOrClose(socket, hostPort, options);

    if (!verdict.known) {
      socket.destroy();
      const presented = verdict.fingerprint;
      if (options.confirmFingerprint === undefined) {
        throw new SftError(
          'FINGERPRINT_UNKNOWN',
          `Receiver ${hostPort} is not known yet; its fingerprint is ${presented}. Nothing was sent. Check the fingerprint with the receiver's owner, then pass --trust ${presented}.`,
        );
      }
      // Ask without a connection open, so a slow answer cannot run into the receiver's
      // handshake timeout, then connect again and require the confirmed fingerprint.
      const confirmed = await options.confirmFingerprint({ hostPort, fingerprint: presented });
      if (!confirmed) {
        throw new SftError('FINGERPRINT_UNKNOWN', `Receiver ${hostPort} (fingerprint ${presented}) was not trusted, so nothing was sent.`);
      }
      await options.knownReceivers.set(hostPort, presented);
      socket = await connectTls(options);
      verdict = await verifyReceiverOrClose(socket, hostPort, options);
      if (!verdict.known) {
        socket.destroy();
        throw new SftError('FINGERPRINT_CHANGED', `Receiver ${hostPort} presented ${verdict.fingerprint} right after ${presented} was confirmed. Nothing was sent.`);
      }
    }
    const fingerprint = verdict.fingerprint;
    options.onVerified?.(fingerprint);

    const channel = new FrameChannel(socket, DEFAULT_FRAME_LIMITS, `receiver ${hostPort}`);
    try {
      const publicKeyPem = await handshake(channel, hostPort, options);
      const connection = new SenderConnection(channel, hostPort, publicKeyPem);
      connection.startReading();
      return connection;
    } catch (error) {
      channel.destroy(isSftError(error) ? error : new SftError('CONNECTION_FAILED', String(error)));
      throw error;
    }
  }

  /** The error that ended the connection, if it ended. */
  get error(): SftError | undefined {
    return this.failure;
  }

  /** Calls `listener` once when the connection fails or closes; returns a function that unsubscribes. */
  onFailure(listener: (error: SftError) => void): () => void {
    if (this.failure) {
      listener(this.failure);
      return () => undefined;
    }
    this.failureListeners.push(listener);
    return () => {
      const index = this.failureListeners.indexOf(listener);
      if (index >= 0) {
        this.failureListeners.splice(index, 1);
      }
    };
  }

  /** Waits for the next message of one of `types`; any other message is a protocol violation. */
  expect<T extends ReceiverMessage['type']>(types: readonly T[], timeoutMs: number, what: string): Promise<Extract<ReceiverMessage, { type: T }>> {
    const queued = this.mailbox.shift();
    if (queued !== undefined) {
      return this.check(queued, types);
    }
    if (this.failure) {
      return Promise.reject(this.failure);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        const error = new SftError('TIMEOUT', `Timed out after ${timeoutMs} ms waiting for ${what} from receiver ${this.hostPort}.`);
        reject(error);
        this.destroy(error);
      }, timeoutMs);
      this.waiter = {
        types,
        resolve: (message) => this.check(message, types).then(resolve, reject),
        reject,
        timer,
      };
    });
  }

  /** Ends the session politely with `bye`. */
  async close(): Promise<void> {
    if (this.failure) {
      return;
    }
    this.failure = new SftError('CONNECTION_FAILED', `The connection to receiver ${this.hostPort} was closed by the sender.`);
    await this.channel.closeWith({ type: 'bye' });
  }

  /** Closes the connection at once. */
  destroy(error: SftError): void {
    this.fail(error);
    this.channel.destroy(error);
  }

  private check<T extends ReceiverMessage['type']>(message: ReceiverMessage, types: readonly T[]): Promise<Extract<ReceiverMessage, { type: T }>> {
    if (!(types as readonly string[]).includes(message.type)) {
      const error = new SftError('PROTOCOL_VIOLATION', `Receiver ${this.hostPort} sent "${message.type}" where ${types.join(' or ')} was expected.`);
      this.destroy(error);
      return Promise.reject(error);
    }
    return Promise.resolve(message as Extract<ReceiverMessage, { type: T }>);
  }

  private startReading(): void {
    const loop = async (): Promise<void> => {
      for (;;) {
        const frame = await this.channel.next(0);
        if (frame.type === 'data') {
          throw new SftError('PROTOCOL_VIOLATION', `Receiver ${this.hostPort} sent a data frame; receivers never send data.`);
        }
        const message = parseReceiverMessage(frame.body);
        if (message.type === 'error') {
          throw new SftError(message.code, `Receiver ${this.hostPort} reported ${message.code}: ${message.message}`);
        }
        if (message.type === 'committed') {
          this.onCommitted?.(message);
          continue;
        }
        if (message.type === 'bye') {
          throw new SftError('CONNECTION_FAILED', `Receiver ${this.hostPort} closed the session (it may be stopping).`);
        }
        const waiter = this.waiter;
        if (waiter) {
          this.waiter = undefined;
          clearTimeout(waiter.timer);
          waiter.resolve(message);
        } else {
          this.mailbox.push(message);
        }
      }
    };
    loop().catch((error: unknown) => {
      const failure = isSftError(error) ? error : new SftError('PROTOCOL_VIOLATION', (error as Error).message);
      this.destroy(failure);
    });
  }

  private fail(error: SftError): void {
    if (this.failure) {
      if (this.waiter) {
        const waiter = this.waiter;
        this.waiter = undefined;
        clearTimeout(waiter.timer);
        waiter.reject(this.failure);
      }
      return;
    }
    this.failure = error;
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
    for (const listener of this.failureListeners.splice(0)) {
      listener(error);
    }
  }
}

/** Opens TCP and completes the TLS 1.3 handshake; resolves with nothing written by the sender. */
function connectTls(options: ConnectOptions): Promise<tls.TLSSocket> {
  const hostPort = formatHostPort(options.host, options.port);
  if (options.signal?.aborted) {
    return Promise.reject(new SftError('TRANSFER_CANCELLED', 'The transfer was cancelled.'));
  }
  return new Promise((resolve, reject) => {
    // node:tls has no localAddress option, so the TCP socket is made first when one is set.
    const tcp = options.localAddress === undefined ? undefined : net.connect({ host: options.host, port: options.port, localAddress: options.localAddress });
    const socket = tls.connect({
      host: options.host,
      port: options.port,
      socket: tcp,
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      // The certificate is self-signed; the fingerprint check below replaces CA validation.
      rejectUnauthorized: false,
      servername: net.isIP(options.host) === 0 ? options.host : undefined,
    });
    const finish = (error?: SftError): void => {
      clearTimeout(timer);
      socket.off('secureConnect', onConnect);
      socket.off('error', onError);
      options.signal?.removeEventListener('abort', onAbort);
      if (error) {
        socket.destroy();
        reject(error);
      } else {
        resolve(socket);
      }
    };
    const onConnect = (): void => finish();
    const onError = (error: NodeJS.ErrnoException): void => {
      finish(new SftError('CONNECTION_FAILED', `Cannot connect to receiver ${hostPort}: ${error.code ?? error.message}. Check that it runs and that the address is right.`, { cause: error }));
    };
    const onAbort = (): void => finish(new SftError('TRANSFER_CANCELLED', 'The transfer was cancelled.'));
    const timer = setTimeout(() => {
      finish(new SftError('TIMEOUT', `Connecting to receiver ${hostPort} timed out after ${options.connectTimeoutMs} ms.`));
    }, options.connectTimeoutMs);
    socket.once('secureConnect', onConnect);
    socket.on('error', onError);
    socket.once('close', () => finish(new SftError('CONNECTION_FAILED', `Receiver ${hostPort} closed the connection during the TLS handshake.`)));
    options.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

async function verifyReceiverOrClose(socket: tls.TLSSocket, hostPort: string, options: ConnectOptions): Promise<{ known: boolean; fingerprint: string }> {
  try {
    return await verifyReceiver(socket, hostPort, options);
  } catch (error) {
    socket.destroy();
    throw error;
  }
}

/**
 * Checks the certificate the receiver presented against the pinned or known fingerprint.
 * Throws FINGERPRINT_CHANGED on a mismatch; returns `known: false` for a receiver seen for
 * the first time, for the caller to ask about.
 */
async function verifyReceiver(socket: tls.TLSSocket, hostPort: string, options: ConnectOptions): Promise<{ known: boolean; fingerprint: string }> {
  if (socket.getProtocol() !== 'TLSv1.3') {
    throw new SftError('CONNECTION_FAILED', `Receiver ${hostPort} negotiated ${socket.getProtocol()}, not TLS 1.3.`);
  }
  const certificate = socket.getPeerCertificate();
  if (certificate === null || certificate.raw === undefined) {
    throw new SftError('CONNECTION_FAILED', `Receiver ${hostPort} presented no certificate.`);
  }
  const presented = certificateFingerprint(certificate.raw);

  if (options.trust !== undefined) {
    if (presented !== options.trust) {
      throw new SftError(
        'FINGERPRINT_CHANGED',
        `Receiver ${hostPort} presented fingerprint ${presented}, but ${options.trust} was expected (from --trust or the link). Nothing was sent. Check the link with the receiver's owner.`,
      );
    }
    if (options.knownReceivers.get(hostPort) !== presented) {
      await options.knownReceivers.set(hostPort, presented);
    }
    return { known: true, fingerprint: presented };
  }

  const known = options.knownReceivers.get(hostPort);
  if (known === undefined) {
    return { known: false, fingerprint: presented };
  }
  if (known !== presented) {
    throw new SftError(
      'FINGERPRINT_CHANGED',
      `WARNING: receiver ${hostPort} presented fingerprint ${presented}, but ${known} is recorded in ${options.knownReceivers.file}. ` +
        'Someone may be intercepting the connection, or the receiver got a new identity. Nothing was sent. ' +
        `If the owner confirms the change, remove the line for ${hostPort} from that file or pass --trust with the new fingerprint.`,
    );
  }
  return { known: true, fingerprint: presented };
}

/** Exchanges `hello` and `login`; returns the receiver's public key PEM. */
async function handshake(channel: FrameChannel, hostPort: string, options: ConnectOptions): Promise<string> {
  const next = async (what: string): Promise<ReceiverMessage> => {
    const frame = await channel.next(options.replyTimeoutMs, what);
    if (frame.type === 'data') {
      throw new SftError('PROTOCOL_VIOLATION', `Receiver ${hostPort} sent a data frame during the handshake.`);
    }
    const message = parseReceiverMessage(frame.body);
    if (message.type === 'error') {
      throw new SftError(message.code, `Receiver ${hostPort} reported ${message.code}: ${message.message}`);
    }
    if (message.type === 'bye') {
      throw new SftError('CONNECTION_FAILED', `Receiver ${hostPort} closed the session during the handshake (it may be stopping).`);
    }
    return message;
  };

  await channel.send({ type: 'hello', versions: [...SUPPORTED_VERSIONS], software: options.software });
  const hello = await next('hello');
  if (hello.type !== 'hello') {
    throw new SftError('PROTOCOL_VIOLATION', `Receiver ${hostPort} sent "${hello.type}" instead of "hello".`);
  }
  if (hello.version !== PROTOCOL_VERSION) {
    throw new SftError('PROTOCOL_UNSUPPORTED_VERSION', `Receiver ${hostPort} chose protocol version ${hello.version}, which this sender never offered.`);
  }

  await channel.send({ type: 'login', username: options.username, password: options.password });
  const answer = await next('the login answer');
  if (answer.type === 'login-failed') {
    if (answer.reason === 'locked') {
      const wait = answer.retryAfterMs === undefined ? 'later' : `in ${Math.ceil(answer.retryAfterMs / 1000)} s`;
      throw new SftError('LOGIN_LOCKED', `Receiver ${hostPort} rejected the login: too many failed logins from this address. Try again ${wait}.`);
    }
    throw new SftError('LOGIN_FAILED', `Login to receiver ${hostPort} failed: invalid username or password. Check --user and the password file.`);
  }
  if (answer.type !== 'login-ok') {
    throw new SftError('PROTOCOL_VIOLATION', `Receiver ${hostPort} sent "${answer.type}" instead of a login answer.`);
  }
  return answer.publicKey;
}
