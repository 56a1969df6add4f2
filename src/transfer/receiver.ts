/**
 * The receiver: a TLS 1.3 server that authenticates senders and stores their envelopes.
 *
 * It enforces the connection limits of docs/PROTOCOL.md ("Limits") and runs one
 * ReceiverSession per connection. The caller opens the store and passes the key material,
 * so the command line can read it from files and the extension from its secret storage.
 */
import { EventEmitter } from 'node:events';
import * as crypto from 'node:crypto';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { SftError } from '../errors';
import { parsePublicKey } from '../crypto';
import type { Accounts } from '../storage/accounts';
import { LoginLimiter, addressKeyOf } from '../storage/login-limiter';
import type { Store } from '../storage/store';
import { FrameChannel } from './channel';
import { MAX_CONTROL_MESSAGE_BYTES, MAX_DATA_FRAME_BYTES } from './frame';
import { certificateFingerprint } from './identity';
import { formatLink } from './link';
import { IncomingOffer, ReceiverLogger, ReceiverSession, SessionHost, TransferInfo } from './receiver-session';

export type { IncomingOffer, ReceiverLogger, TransferInfo } from './receiver-session';

export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_CONNECTIONS = 64;
export const DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS = 8;
export const DEFAULT_CHECKPOINT_INTERVAL_BYTES = 8 * 1024 * 1024;
/** The protocol promises a `committed` message at least this often, so the sender's window never stalls. */
export const MAX_CHECKPOINT_INTERVAL_BYTES = 16 * 1024 * 1024;
export const DEFAULT_PARTIAL_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000;
/** How often expired partial uploads are removed while the receiver runs. */
export const PARTIAL_CLEANUP_INTERVAL_MS = 60 * 60 * 1000;
/** How long a graceful stop waits for files in progress before it closes their connections. */
export const DEFAULT_GRACEFUL_STOP_MS = 10_000;
/** How long a new connection waits for an old one to store the frames it already received of the same transfer. */
const TAKEOVER_DRAIN_MS = 10_000;
/** Minimum time between two log lines of one kind that attackers can repeat at will. */
const LOG_REPEAT_INTERVAL_MS = 10_000;
const MAX_REPEATED_LOG_KINDS = 1000;

export interface ReceiverLimits {
  /** Maximum time from TCP accept to the reply to `login`. */
  handshakeTimeoutMs: number;
  /** Maximum silence of a logged-in sender while the receiver waits for its next frame. */
  idleTimeoutMs: number;
  maxConnections: number;
  /** Connections from one address that have not logged in yet. */
  maxUnauthenticatedPerAddress: number;
  maxControlMessageBytes: number;
  maxDataFrameBytes: number;
  /** Bytes between two checkpoints (fsync and `committed`); at most MAX_CHECKPOINT_INTERVAL_BYTES. */
  checkpointIntervalBytes: number;
}

export const DEFAULT_RECEIVER_LIMITS: Readonly<ReceiverLimits> = {
  handshakeTimeoutMs: DEFAULT_HANDSHAKE_TIMEOUT_MS,
  idleTimeoutMs: DEFAULT_IDLE_TIMEOUT_MS,
  maxConnections: DEFAULT_MAX_CONNECTIONS,
  maxUnauthenticatedPerAddress: DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS,
  maxControlMessageBytes: MAX_CONTROL_MESSAGE_BYTES,
  maxDataFrameBytes: MAX_DATA_FRAME_BYTES,
  checkpointIntervalBytes: DEFAULT_CHECKPOINT_INTERVAL_BYTES,
};

export interface ReceiverOptions {
  /** The opened store; the receiver never closes it. */
  store: Store;
  accounts: Accounts;
  /** Defaults to a new LoginLimiter with its default policy. */
  loginLimiter?: LoginLimiter;
  /** TLS key and self-signed certificate, PEM (see identity.ts and receiver-keys.ts). */
  tls: { keyPem: string; certPem: string };
  /** The receiver's RSA public key for envelopes, sent to senders after login. */
  publicKey: crypto.KeyObject | string;
  logger?: ReceiverLogger;
  limits?: Partial<ReceiverLimits>;
  /** Called for each new file before it is accepted; resolving false rejects it. Resumed files are not asked again. */
  askBeforeAccept?: (offer: IncomingOffer) => boolean | Promise<boolean>;
  /** Age after which partial uploads are deleted; 0 keeps them forever. Default 7 days. */
  partialMaxAgeMs?: number;
  /** Program name and version sent in `hello`, at most 64 characters. */
  software?: string;
}

export interface ListenOptions {
  /** Address to listen on. Default 127.0.0.1. */
  host?: string;
  /** TCP port; 0 picks a free one. Default 0. */
  port?: number;
}

/** Events of a Receiver and their arguments. */
export interface ReceiverEvents {
  listening: [address: { host: string; port: number }];
  connection: [info: { connectionId: string; remoteAddress: string }];
  'connection-rejected': [info: { remoteAddress: string; reason: string }];
  login: [info: { connectionId: string; remoteAddress: string; username: string }];
  'login-failed': [info: { connectionId: string; remoteAddress: string; username: string; reason: 'invalid' | 'locked' }];
  'transfer-start': [info: TransferInfo];
  'transfer-progress': [info: TransferInfo];
  'transfer-rejected': [info: { connectionId: string; remoteAddress: string; transferId: string; code: string; message: string }];
  'transfer-done': [info: TransferInfo & { entry: import('../storage/store').StoreEntry }];
  'transfer-failed': [info: TransferInfo & { error: unknown }];
  'connection-closed': [info: { connectionId: string; remoteAddress: string; username: string | undefined }];
  stopped: [];
}

const silentLogger: ReceiverLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

interface ConnectionRecord {
  id: string;
  remoteAddress: string;
  rawSocket: net.Socket;
  authenticated: boolean;
  handshakeTimer: NodeJS.Timeout | undefined;
  session: ReceiverSession | undefined;
  /** Settles once the socket closed and the session, if any, finished. */
  done: Promise<void>;
  settle: () => void;
}

export declare interface Receiver {
  on<E extends keyof ReceiverEvents>(event: E, listener: (...args: ReceiverEvents[E]) => void): this;
  once<E extends keyof ReceiverEvents>(event: E, listener: (...args: ReceiverEvents[E]) => void): this;
  off<E extends keyof ReceiverEvents>(event: E, listener: (...args: ReceiverEvents[E]) => void): this;
  emit<E extends keyof ReceiverEvents>(event: E, ...args: ReceiverEvents[E]): boolean;
}

/**
 * A receiver bound to one store. Call `start()` to listen and `stop()` to end.
 *
 * @example
 * const receiver = new Receiver({ store, accounts, tls, publicKey });
 * await receiver.start({ host: '127.0.0.1', port: 0 });
 * console.log(receiver.link());
 */
export class Receiver extends EventEmitter {
  readonly fingerprint: string;
  private readonly options: ReceiverOptions;
  private readonly limits: ReceiverLimits;
  private readonly logger: ReceiverLogger;
  private readonly limiter: LoginLimiter;
  private readonly publicKey: crypto.KeyObject;
  private readonly publicKeyPem: string;
  private server: tls.Server | undefined;
  private listenHost = '127.0.0.1';
  private readonly connections = new Map<string, ConnectionRecord>();
  private readonly unauthenticatedByAddress = new Map<string, number>();
  private readonly transfers = new Map<string, { session: ReceiverSession; released: Promise<void>; release: () => void }>();
  private nextConnectionNumber = 1;
  private cleanupTimer: NodeJS.Timeout | undefined;
  private readonly repeatedLogs = new Map<string, { lastAt: number; suppressed: number }>();
  /** The last login in progress per address key; each new login waits for it. */
  private readonly loginQueues = new Map<string, Promise<void>>();

  constructor(options: ReceiverOptions) {
    super();
    this.options = options;
    this.limits = { ...DEFAULT_RECEIVER_LIMITS, ...options.limits };
    checkLimits(this.limits);
    this.logger = options.logger ?? silentLogger;
    this.limiter = options.loginLimiter ?? new LoginLimiter();
    this.publicKey = typeof options.publicKey === 'string' ? parsePublicKey(options.publicKey, 'the receiver public key') : options.publicKey;
    this.publicKeyPem = this.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    this.fingerprint = certificateFingerprint(options.tls.certPem);
  }

  /** Starts listening. Rejects with CONNECTION_FAILED when the address is in use or invalid. */
  async start(listen: ListenOptions = {}): Promise<{ host: string; port: number }> {
    if (this.server) {
      throw new SftError('USAGE', 'The receiver is already running. Stop it before starting it again.');
    }
    const host = listen.host ?? '127.0.0.1';
    const port = listen.port ?? 0;
    const server = tls.createServer({
      key: this.options.tls.keyPem,
      cert: this.options.tls.certPem,
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      handshakeTimeout: this.limits.handshakeTimeoutMs,
      // Session tickets would let a client skip the certificate on reconnection; every connection shows it.
      sessionTimeout: 0,
      ticketKeys: crypto.randomBytes(48),
    });
    server.on('connection', (socket: net.Socket) => this.onConnection(socket));
    server.on('secureConnection', (socket: tls.TLSSocket) => this.onSecureConnection(socket));
    server.on('tlsClientError', (error: Error, socket: tls.TLSSocket) => {
      this.logRepeated('tls', 'info', `TLS handshake with ${socket.remoteAddress ?? 'unknown address'} failed: ${error.message}`);
    });

    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        reject(new SftError('CONNECTION_FAILED', `Cannot listen on ${host}:${port}: ${error.code ?? error.message}. Choose another --port or --host.`, { cause: error }));
      };
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', (error: Error) => this.logger.error(`Receiver server error: ${error.message}`));

    this.server = server;
    this.listenHost = host;
    const address = this.address();
    this.logger.info(`Receiver listening on ${formatLink({ ...address, fingerprint: this.fingerprint })}.`);
    this.emit('listening', address);

    await this.removeExpiredPartials();
    const maxAge = this.options.partialMaxAgeMs ?? DEFAULT_PARTIAL_MAX_AGE_MS;
    if (maxAge > 0) {
      this.cleanupTimer = setInterval(() => void this.removeExpiredPartials(), PARTIAL_CLEANUP_INTERVAL_MS);
      this.cleanupTimer.unref();
    }
    return address;
  }

  /**
   * Stops listening and closes every connection. With `graceful`, files in progress get up
   * to `timeoutMs` to finish first. Partial uploads are kept for resume either way.
   */
  async stop(options: { graceful?: boolean; timeoutMs?: number } = {}): Promise<void> {
    const server = this.server;
    if (!server) {
      return;
    }
    this.server = undefined;
    clearInterval(this.cleanupTimer);
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));

    const records = [...this.connections.values()];
    if (options.graceful) {
      for (const record of records) {
        if (record.session) {
          record.session.requestStop();
        } else {
          record.rawSocket.destroy();
        }
      }
      const done = Promise.all(records.map((record) => record.done));
      const timeoutMs = options.timeoutMs ?? DEFAULT_GRACEFUL_STOP_MS;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([done, new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
      clearTimeout(timer);
    }

    for (const record of records) {
      record.session?.abort('the receiver is stopping');
      record.rawSocket.destroy();
    }
    await Promise.all(records.map((record) => record.done));
    await closed;
    this.logger.info('Receiver stopped.');
    this.emit('stopped');
  }

  /** Returns the address the receiver listens on. Throws when it is not running. */
  address(): { host: string; port: number } {
    const address = this.server?.address();
    if (address === null || address === undefined || typeof address === 'string') {
      throw new SftError('USAGE', 'The receiver is not running. Call start() first.');
    }
    return { host: address.address, port: address.port };
  }

  /** Returns the receiver link, `sft://HOST:PORT#SHA256:...`. `host` overrides the listening address, for example with a public name. */
  link(host?: string): string {
    const address = this.address();
    return formatLink({ host: host ?? displayHost(this.listenHost, address.host), port: address.port, fingerprint: this.fingerprint });
  }

  /** Number of open connections. */
  get connectionCount(): number {
    return this.connections.size;
  }

  private onConnection(socket: net.Socket): void {
    const remoteAddress = socket.remoteAddress ?? 'unknown';
    const unauthenticated = this.unauthenticatedByAddress.get(remoteAddress) ?? 0;
    let rejection: string | undefined;
    if (this.server === undefined) {
      rejection = 'the receiver is stopping';
    } else if (this.connections.size >= this.limits.maxConnections) {
      rejection = `${this.limits.maxConnections} connections are open`;
    } else if (unauthenticated >= this.limits.maxUnauthenticatedPerAddress) {
      rejection = `${unauthenticated} connections from this address have not logged in yet`;
    }
    if (rejection !== undefined) {
      socket.destroy();
      this.logRepeated('limit', 'warn', `Rejected a connection from ${remoteAddress}: ${rejection}.`);
      this.emit('connection-rejected', { remoteAddress, reason: rejection });
      return;
    }

    const id = `c${this.nextConnectionNumber++}`;
    let settle: () => void = () => undefined;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    const record: ConnectionRecord = {
      id,
      remoteAddress,
      rawSocket: socket,
      authenticated: false,
      handshakeTimer: undefined,
      session: undefined,
      done: settled.then(() => {
        this.emit('connection-closed', { connectionId: id, remoteAddress, username: record.session?.username });
      }),
      settle,
    };
    this.connections.set(connectionKey(socket), record);
    this.unauthenticatedByAddress.set(remoteAddress, unauthenticated + 1);
    // Covers the TLS handshake, `hello` and `login`: a peer that is silent or sends a byte
    // a second is cut here, whatever it sends.
    record.handshakeTimer = setTimeout(() => {
      this.logRepeated('handshake', 'info', `Connection ${id} from ${remoteAddress} closed: no login within ${this.limits.handshakeTimeoutMs} ms.`);
      socket.destroy();
    }, this.limits.handshakeTimeoutMs);

    socket.on('error', () => undefined);
    socket.once('close', () => {
      clearTimeout(record.handshakeTimer);
      this.connections.delete(connectionKey(socket));
      if (!record.authenticated) {
        this.countUnauthenticated(remoteAddress, -1);
      }
      if (record.session === undefined) {
        record.settle();
      }
    });
  }

  private onSecureConnection(socket: tls.TLSSocket): void {
    const record = this.connections.get(connectionKey(socket));
    if (record === undefined) {
      socket.destroy();
      return;
    }
    const channel = new FrameChannel(
      socket,
      { maxControlMessageBytes: this.limits.maxControlMessageBytes, maxDataFrameBytes: 0 },
      `sender at ${record.remoteAddress}`,
    );
    const session = new ReceiverSession(record.id, record.remoteAddress, channel, this.sessionHost(record));
    record.session = session;
    this.logger.info(`Connection ${record.id} from ${record.remoteAddress}.`);
    this.emit('connection', { connectionId: record.id, remoteAddress: record.remoteAddress });

    void session
      .run()
      .catch((error: unknown) => this.logger.error(`Connection ${record.id} ended with an internal error: ${(error as Error).message}`))
      .finally(() => {
        socket.destroy();
        channel.onClose(record.settle);
      });
  }

  private sessionHost(record: ConnectionRecord): SessionHost {
    const receiver = this;
    return {
      store: this.options.store,
      accounts: this.options.accounts,
      limiter: this.limiter,
      logger: this.logger,
      publicKey: this.publicKey,
      publicKeyPem: this.publicKeyPem,
      software: (this.options.software ?? 'sft').slice(0, 64),
      handshakeTimeoutMs: this.limits.handshakeTimeoutMs,
      idleTimeoutMs: this.limits.idleTimeoutMs,
      checkpointIntervalBytes: this.limits.checkpointIntervalBytes,
      maxDataFrameBytes: this.limits.maxDataFrameBytes,
      askBeforeAccept: this.options.askBeforeAccept,
      authenticated() {
        if (!record.authenticated) {
          record.authenticated = true;
          clearTimeout(record.handshakeTimer);
          receiver.countUnauthenticated(record.remoteAddress, -1);
        }
      },
      async claimTransfer(session, username, transferId) {
        const key = `${username}\u0000${transferId}`;
        const previous = receiver.transfers.get(key);
        if (previous !== undefined && previous.session !== session) {
          // The sender reconnected while its old connection still holds the upload. An old
          // connection whose peer is gone may still be writing frames it received, so it gets
          // a moment to finish; one that still looks open (half-open TCP) is closed at once.
          if (previous.session.peerConnected) {
            previous.session.abort(`transfer ${transferId} resumed on connection ${session.id}`);
          }
          const released = await Promise.race([previous.released.then(() => true), delay(TAKEOVER_DRAIN_MS).then(() => false)]);
          if (!released) {
            previous.session.abort(`transfer ${transferId} resumed on connection ${session.id}`);
            await previous.released;
          }
        }
        let release: () => void = () => undefined;
        const released = new Promise<void>((resolve) => (release = resolve));
        receiver.transfers.set(key, { session, released, release });
      },
      releaseTransfer(session, username, transferId) {
        const key = `${username}\u0000${transferId}`;
        const current = receiver.transfers.get(key);
        if (current?.session === session) {
          receiver.transfers.delete(key);
          current.release();
        }
      },
      emit(event, info) {
        receiver.emit(event as keyof ReceiverEvents, info as never);
      },
      serializeLogin(address, run) {
        return receiver.serializeLogin(address, run);
      },
      logRepeated(kind, level, message) {
        receiver.logRepeated(kind, level, message);
      },
    };
  }

  private countUnauthenticated(address: string, change: number): void {
    const count = (this.unauthenticatedByAddress.get(address) ?? 0) + change;
    if (count <= 0) {
      this.unauthenticatedByAddress.delete(address);
    } else {
      this.unauthenticatedByAddress.set(address, count);
    }
  }

  /**
   * Logs `message` unless a line of the same `kind` was logged in the last
   * LOG_REPEAT_INTERVAL_MS; the next line that is logged counts the ones left out.
   */
  /**
   * Runs the logins of one address one at a time. The limiter counts a login as failed
   * until it succeeds, so parallel correct logins from one address (many senders behind
   * one NAT, or a script) would otherwise lock that address out.
   */
  private serializeLogin(address: string, run: () => Promise<void>): Promise<void> {
    const key = addressKeyOf(address);
    const previous = this.loginQueues.get(key) ?? Promise.resolve();
    const current = previous.then(run);
    const settled = current.then(() => undefined, () => undefined);
    this.loginQueues.set(key, settled);
    void settled.then(() => {
      if (this.loginQueues.get(key) === settled) {
        this.loginQueues.delete(key);
      }
    });
    return current;
  }

  private logRepeated(kind: string, level: 'info' | 'warn', message: string): void {
    if (!this.repeatedLogs.has(kind) && this.repeatedLogs.size >= MAX_REPEATED_LOG_KINDS) {
      // Kinds include addresses, which an attacker can vary; forgetting them only costs log lines.
      this.repeatedLogs.clear();
    }
    const state = this.repeatedLogs.get(kind) ?? { lastAt: 0, suppressed: 0 };
    this.repeatedLogs.set(kind, state);
    const now = Date.now();
    if (now - state.lastAt < LOG_REPEAT_INTERVAL_MS) {
      state.suppressed++;
      return;
    }
    const suffix = state.suppressed > 0 ? ` (${state.suppressed} similar lines left out since the last one)` : '';
    this.logger[level](message + suffix);
    state.lastAt = now;
    state.suppressed = 0;
  }

  private async removeExpiredPartials(): Promise<void> {
    const maxAge = this.options.partialMaxAgeMs ?? DEFAULT_PARTIAL_MAX_AGE_MS;
    if (maxAge <= 0) {
      return;
    }
    try {
      const removed = await this.options.store.removeExpiredPartials(maxAge);
      if (removed > 0) {
        this.logger.info(`Removed ${removed} partial uploads older than ${Math.round(maxAge / 3_600_000)} hours.`);
      }
    } catch (error) {
      this.logger.error(`Could not remove expired partial uploads: ${(error as Error).message}`);
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function connectionKey(socket: net.Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}`;
}

/** Returns the host for a link: the loopback address in place of a wildcard listening address. */
function displayHost(listenHost: string, boundHost: string): string {
  if (listenHost === '0.0.0.0' || listenHost === '::') {
    return listenHost === '::' ? '::1' : '127.0.0.1';
  }
  return boundHost;
}

function checkLimits(limits: ReceiverLimits): void {
  const positive: (keyof ReceiverLimits)[] = ['handshakeTimeoutMs', 'idleTimeoutMs', 'maxConnections', 'maxUnauthenticatedPerAddress', 'checkpointIntervalBytes'];
  for (const name of positive) {
    if (!Number.isSafeInteger(limits[name]) || limits[name] <= 0) {
      throw new SftError('USAGE', `Receiver limit ${name} is ${limits[name]}; it must be a positive whole number.`);
    }
  }
  if (limits.checkpointIntervalBytes > MAX_CHECKPOINT_INTERVAL_BYTES) {
    throw new SftError('USAGE', `Receiver limit checkpointIntervalBytes is ${limits.checkpointIntervalBytes}; it must be at most ${MAX_CHECKPOINT_INTERVAL_BYTES}.`);
  }
  if (limits.maxControlMessageBytes < 1024 || limits.maxControlMessageBytes > MAX_CONTROL_MESSAGE_BYTES) {
    throw new SftError('USAGE', `Receiver limit maxControlMessageBytes must be 1024..${MAX_CONTROL_MESSAGE_BYTES}.`);
  }
  if (limits.maxDataFrameBytes < 1024 || limits.maxDataFrameBytes > MAX_DATA_FRAME_BYTES) {
    throw new SftError('USAGE', `Receiver limit maxDataFrameBytes must be 1024..${MAX_DATA_FRAME_BYTES}.`);
  }
}
