/**
 * The receiver's side of one connection: the state machine of docs/PROTOCOL.md
 * ("State machines", "Receiver"), from `hello` to `bye`.
 *
 * Messages arrive already checked by messages.ts; this file checks that each one is
 * allowed in the current state and drives the store. A violation sends `error` and closes.
 */
import { promises as fs } from 'node:fs';
import { SftError, isSftError } from '../errors';
import { envelopeSize, fingerprintBytes, parseHeader, StanzaType } from '../crypto';
import type { KeyObject } from 'node:crypto';
import type { Accounts } from '../storage/accounts';
import type { LoginLimiter } from '../storage/login-limiter';
import { escapeForLog } from '../storage/names';
import type { Store, StoreEntry, Upload } from '../storage/store';
import { FrameChannel } from './channel';
import { Frame } from './frame';
import { Offer, ReceiverMessage, RejectCode, SUPPORTED_VERSIONS, SenderMessage, parseSenderMessage, REJECT_CODES } from './messages';

export type ReceiverState = 'awaiting-hello' | 'awaiting-login' | 'ready' | 'receiving' | 'discarding' | 'closed';

/** Destination of log lines; a VS Code `LogOutputChannel` fits. */
export interface ReceiverLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** A file offer as the receiver's user sees it before accepting it. Names are already safe to show. */
export interface IncomingOffer {
  connectionId: string;
  remoteAddress: string;
  username: string;
  transferId: string;
  displayName: string;
  relativePath: string;
  envelopeSize: number;
  plaintextSize: number;
}

/** A transfer as events report it. */
export interface TransferInfo extends IncomingOffer {
  /** Envelope bytes on disk so far. */
  received: number;
}

/** Everything a session needs from its receiver. */
export interface SessionHost {
  readonly store: Store;
  readonly accounts: Accounts;
  readonly limiter: LoginLimiter;
  readonly logger: ReceiverLogger;
  readonly publicKeyPem: string;
  readonly publicKey: KeyObject;
  readonly software: string;
  readonly handshakeTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly checkpointIntervalBytes: number;
  readonly maxDataFrameBytes: number;
  readonly askBeforeAccept: ((offer: IncomingOffer) => boolean | Promise<boolean>) | undefined;
  /** Marks the connection as logged in, so it no longer counts against the per-address limit. */
  authenticated(session: ReceiverSession): void;
  /** Registers the session as the one receiving `transferId` for `username`; closes an older one first. */
  claimTransfer(session: ReceiverSession, username: string, transferId: string): Promise<void>;
  releaseTransfer(session: ReceiverSession, username: string, transferId: string): void;
  emit(event: string, info: unknown): void;
  /** Runs `run` after every earlier login from the same address has finished. */
  serializeLogin(address: string, run: () => Promise<void>): Promise<void>;
  /** Logs a line that a peer can make the receiver repeat, at most once per interval per `kind`. */
  logRepeated(kind: string, level: 'info' | 'warn', message: string): void;
}

/**
 * Maximum count of finished files still being stored while the session reads the next
 * offer. Their replies go out in order, and each keeps at most one 1 MiB upload in memory.
 */
const MAX_BACKGROUND_COMMITS = 8;

/** Interval between 'transfer-progress' events of one transfer, in milliseconds. */
const PROGRESS_INTERVAL_MS = 250;

interface ActiveTransfer {
  offer: IncomingOffer;
  upload: Upload;
  headerSize: number;
  /** Header bytes collected while they arrive, to check the header before the payload. */
  headerBytes: Buffer[] | undefined;
  headerCollected: number;
  lastCommittedSent: number;
  lastProgressAt: number;
}

/** One connection's state machine. `run()` resolves when the connection is closed. */
export class ReceiverSession {
  state: ReceiverState = 'awaiting-hello';
  username: string | undefined;
  private transfer: ActiveTransfer | undefined;
  /** A rejected eager offer whose data frames and `end` are still arriving, to be dropped. */
  private discarding: { transferId: string; remaining: number } | undefined;
  /** Messages to the sender and file commits, in the order the sender must see their replies. */
  private replies: Promise<void> = Promise.resolve();
  private backgroundCommits = 0;
  /** The first error of a queued reply or commit, which ends the session. */
  private replyError: SftError | undefined;
  private readonly startedAt = Date.now();
  private stopping = false;

  constructor(
    readonly id: string,
    readonly remoteAddress: string,
    private readonly channel: FrameChannel,
    private readonly host: SessionHost,
  ) {}

  /** False once the peer closed or the connection failed, even while queued frames are still being stored. */
  get peerConnected(): boolean {
    return this.channel.error === undefined;
  }

  /** The transfer in progress, if any. */
  get currentTransferId(): string | undefined {
    return this.transfer?.offer.transferId;
  }

  async run(): Promise<void> {
    try {
      await this.handshake();
      while (this.state === 'ready' || this.state === 'receiving' || this.state === 'discarding') {
        await this.handle(await this.nextMessage(this.host.idleTimeoutMs));
        if (this.replyError !== undefined) {
          throw this.replyError;
        }
      }
    } catch (error) {
      await this.fail(this.replyError ?? error);
    } finally {
      await this.replies;
      await this.releaseTransfer('closed');
      this.state = 'closed';
    }
  }

  /** Asks the session to end after its current file; an idle session ends at once. */
  requestStop(): void {
    this.stopping = true;
    if (this.state === 'ready' || this.state === 'awaiting-hello' || this.state === 'awaiting-login') {
      void this.closeAfterReplies();
    }
  }

  /** Sends the replies still queued for stored files, then `bye`, and closes the connection. */
  private async closeAfterReplies(): Promise<void> {
    this.state = 'closed';
    await this.replies;
    await this.channel.closeWith({ type: 'bye' });
  }

  /** Closes the connection at once; its partial upload is kept for resume. */
  abort(reason: string): void {
    // Checks the socket, not the state, because a closing session may still wait for its queued replies.
    if (this.channel.closed) {
      return;
    }
    this.host.logger.info(`Connection ${this.id} from ${this.remoteAddress} closed: ${reason}.`);
    this.channel.destroy(new SftError('TRANSFER_CANCELLED', `Connection closed by the receiver: ${reason}.`));
  }

  private async handshake(): Promise<void> {
    const deadline = this.startedAt + this.host.handshakeTimeoutMs;
    const remaining = (): number => Math.max(1, deadline - Date.now());

    const hello = await this.nextMessage(remaining(), 'hello');
    if ('body' in hello || hello.type !== 'hello') {
      throw this.unexpected(hello);
    }
    const version = Math.max(...hello.versions.filter((v) => SUPPORTED_VERSIONS.includes(v)));
    if (!Number.isFinite(version)) {
      throw new SftError(
        'PROTOCOL_UNSUPPORTED_VERSION',
        `The sender speaks protocol versions ${hello.versions.join(', ')}; this receiver speaks ${SUPPORTED_VERSIONS.join(', ')}. Update the older side.`,
      );
    }
    await this.channel.send({ type: 'hello', version, software: this.host.software });
    this.state = 'awaiting-login';

    const login = await this.nextMessage(remaining(), 'login');
    if ('body' in login || login.type !== 'login') {
      throw this.unexpected(login);
    }
    await this.host.serializeLogin(this.remoteAddress, () => this.login(login.username, login.password));
  }

  private async login(username: string, password: string): Promise<void> {
    const shownUser = escapeForLog(username, 64);
    const decision = this.host.limiter.beginAttempt(this.remoteAddress, username);
    if (!decision.allowed) {
      // A locked-out attacker repeats this at will, so one line per address every few seconds is enough.
      this.host.logRepeated(
        `locked ${this.remoteAddress}`,
        'warn',
        `Login rejected for user "${shownUser}" from ${this.remoteAddress}: address locked for ${Math.ceil(decision.retryAfterMs / 1000)} s after repeated failures.`,
      );
      this.host.emit('login-failed', { connectionId: this.id, remoteAddress: this.remoteAddress, username, reason: 'locked' });
      await this.channel.closeWith({
        type: 'login-failed',
        reason: 'locked',
        message: 'Too many failed logins from this address. Try again later.',
        retryAfterMs: decision.retryAfterMs,
      });
      this.state = 'closed';
      return;
    }
    if (decision.delayMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, decision.delayMs));
    }

    const valid = await this.host.accounts.verify(username, password);
    if (!valid) {
      this.host.logger.warn(`Login failed for user "${shownUser}" from ${this.remoteAddress}.`);
      this.host.emit('login-failed', { connectionId: this.id, remoteAddress: this.remoteAddress, username, reason: 'invalid' });
      await this.channel.closeWith({ type: 'login-failed', reason: 'invalid', message: 'Invalid username or password.' });
      this.state = 'closed';
      return;
    }

    this.host.limiter.recordSuccess(this.remoteAddress, username);
    this.username = username;
    this.host.authenticated(this);
    this.channel.decoder.setLimits({ maxDataFrameBytes: this.host.maxDataFrameBytes });
    await this.channel.send({ type: 'login-ok', publicKey: this.host.publicKeyPem });
    this.state = 'ready';
    this.host.logger.info(`User "${shownUser}" logged in from ${this.remoteAddress} (connection ${this.id}).`);
    this.host.emit('login', { connectionId: this.id, remoteAddress: this.remoteAddress, username });
  }

  private async handle(message: SenderMessage | Frame): Promise<void> {
    if (this.state === 'closed') {
      // The session is closing with `bye`, so whatever the sender sent meanwhile is dropped.
      return;
    }
    if (this.state === 'discarding') {
      this.discard(message);
      return;
    }
    if ('body' in message) {
      if (this.state !== 'receiving') {
        throw this.unexpected(message);
      }
      await this.receiveData(message.body);
      return;
    }

    switch (message.type) {
      case 'offer':
        if (this.state !== 'ready') {
          throw this.unexpected(message);
        }
        if (this.stopping) {
          // The sender sent this offer before it learned of the stop. It gets bye and retries later.
          // NOTE: no test reproduces this race; the branch follows from reading the stop path.
          await this.closeAfterReplies();
          return;
        }
        await this.offer(message);
        return;
      case 'end':
        if (this.state !== 'receiving' || message.transferId !== this.transfer?.offer.transferId) {
          throw this.unexpected(message);
        }
        await this.end(message.sha256);
        return;
      case 'cancel':
        if (this.state !== 'receiving' || message.transferId !== this.transfer?.offer.transferId) {
          throw this.unexpected(message);
        }
        await this.releaseTransfer('cancelled by the sender');
        this.state = 'ready';
        return;
      case 'bye':
        if (this.state !== 'ready') {
          throw this.unexpected(message);
        }
        this.state = 'closed';
        this.host.logger.info(`Connection ${this.id} from ${this.remoteAddress} ended by the sender.`);
        await this.replies;
        await this.channel.closeWith({ type: 'bye' });
        return;
      default:
        throw this.unexpected(message);
    }
  }

  /** Drops what follows a rejected eager offer: its data frames, then its `end` or `cancel`. */
  private discard(message: SenderMessage | Frame): void {
    const discarding = this.discarding as { transferId: string; remaining: number };
    if ('body' in message) {
      if (message.body.length > discarding.remaining) {
        throw new SftError('PROTOCOL_VIOLATION', `Rejected eager transfer ${discarding.transferId} sent more data than its offered size. A sender must stop at the size it offered.`);
      }
      discarding.remaining -= message.body.length;
      return;
    }
    const ends = (message.type === 'end' && discarding.remaining === 0) || message.type === 'cancel';
    if (!ends || message.transferId !== discarding.transferId) {
      throw this.unexpected(message);
    }
    this.discarding = undefined;
    this.state = 'ready';
  }

  private async offer(offer: Offer): Promise<void> {
    const username = this.username as string;
    if (envelopeSize(offer.headerSize, offer.plaintextSize) !== offer.size) {
      throw new SftError(
        'PROTOCOL_VIOLATION',
        `Offer ${offer.transferId}: size ${offer.size} does not match a ${offer.headerSize}-byte header and ${offer.plaintextSize} bytes of plaintext.`,
      );
    }

    await this.host.claimTransfer(this, username, offer.transferId);
    let upload: Upload;
    try {
      upload = await this.host.store.beginUpload({
        transferId: offer.transferId,
        username,
        remoteAddress: this.remoteAddress,
        displayName: offer.name,
        // A lone file is offered with its name as path; the store keeps '' for it.
        relativePath: offer.path === offer.name ? '' : offer.path,
        envelopeSize: offer.size,
        plaintextSize: offer.plaintextSize,
      });
    } catch (error) {
      this.host.releaseTransfer(this, username, offer.transferId);
      const code = isSftError(error) ? error.code : undefined;
      if (code !== undefined && (REJECT_CODES as readonly string[]).includes(code)) {
        await this.reject(offer, code as RejectCode, (error as SftError).message);
        return;
      }
      throw error;
    }

    if (offer.eager && (upload.committedOffset !== 0 || upload.isComplete)) {
      // The eager bytes start at 0, so they cannot continue a stored partial. The partial stays for a plain offer.
      await upload.close();
      this.host.releaseTransfer(this, username, offer.transferId);
      await this.reject(offer, 'TRANSFER_REJECTED', `An eager offer starts at byte 0, but ${upload.committedOffset} bytes of this transfer are already stored. Offer it again without "eager".`);
      return;
    }

    const info: IncomingOffer = {
      connectionId: this.id,
      remoteAddress: this.remoteAddress,
      username,
      transferId: offer.transferId,
      displayName: upload.state.displayName,
      relativePath: upload.state.relativePath,
      envelopeSize: offer.size,
      plaintextSize: offer.plaintextSize,
    };

    const isNew = upload.committedOffset === 0 && !upload.isComplete;
    if (isNew && this.host.askBeforeAccept !== undefined) {
      let accepted = false;
      try {
        // A prompt nobody answers must not keep a closed connection (or a stopping receiver) waiting.
        const closed = new Promise<boolean>((resolve) => this.channel.onClose(() => resolve(false)));
        accepted = await Promise.race([Promise.resolve(this.host.askBeforeAccept(info)), closed]);
      } catch (error) {
        this.host.logger.error(`The accept prompt for transfer ${offer.transferId} failed: ${(error as Error).message}`);
      }
      if (!accepted) {
        await upload.abort();
        this.host.releaseTransfer(this, username, offer.transferId);
        await this.reject(offer, 'TRANSFER_REJECTED', 'The receiver declined the file.');
        return;
      }
    }

    const offset = upload.committedOffset;
    this.transfer = {
      offer: info,
      upload,
      headerSize: offer.headerSize,
      headerBytes: offset < offer.headerSize ? [] : undefined,
      headerCollected: 0,
      lastCommittedSent: offset,
      lastProgressAt: 0,
    };
    if (offset > 0 && offset < offer.headerSize) {
      await this.readHeaderPrefix(upload, offset);
    }
    this.reply({ type: 'accept', transferId: offer.transferId, offset });
    this.state = 'receiving';
    // A small file sent eagerly gets only its "Stored" line, so a folder of many files
    // does not double the log.
    if (!offer.eager) {
      this.host.logger.info(
        `Receiving "${escapeForLog(info.relativePath || info.displayName)}" (${offer.size} bytes, transfer ${offer.transferId}) from "${escapeForLog(username, 64)}" at ${this.remoteAddress}, from byte ${offset}.`,
      );
    }
    this.host.emit('transfer-start', { ...info, received: offset });
  }

  /** Rejects an offer. After an eager offer, its data frames and `end` are dropped on arrival. */
  private async reject(offer: Offer, code: RejectCode, message: string): Promise<void> {
    this.host.logger.warn(`Rejected transfer ${offer.transferId} from ${this.remoteAddress}: ${code}: ${message}`);
    this.host.emit('transfer-rejected', { connectionId: this.id, remoteAddress: this.remoteAddress, transferId: offer.transferId, code, message });
    if (offer.eager) {
      this.discarding = { transferId: offer.transferId, remaining: offer.size };
      this.state = 'discarding';
    }
    this.reply({ type: 'reject', transferId: offer.transferId, code, message: message.slice(0, 1024) });
  }

  /** Queues `message` to be sent after every reply queued before it, and returns at once. */
  private reply(message: ReceiverMessage): void {
    this.queue(() => this.channel.send(message));
  }

  /**
   * Runs `task` after the tasks queued before it. A failure ends the session: the next read
   * of the run loop throws it.
   */
  private queue(task: () => Promise<void>): void {
    this.replies = this.replies.then(task).catch((error: unknown) => {
      this.replyError ??= isSftError(error) ? error : new SftError('IO_FAILED', `Internal error: ${(error as Error)?.message ?? String(error)}`, { cause: error });
      this.channel.destroy(this.replyError);
    });
  }

  private async receiveData(body: Buffer): Promise<void> {
    const transfer = this.transfer as ActiveTransfer;
    const upload = transfer.upload;
    if (upload.writtenOffset + body.length > transfer.offer.envelopeSize) {
      throw new SftError(
        'PROTOCOL_VIOLATION',
        `Transfer ${transfer.offer.transferId} sent ${upload.writtenOffset + body.length} bytes, more than the offered ${transfer.offer.envelopeSize}.`,
      );
    }

    if (transfer.headerBytes !== undefined) {
      try {
        this.collectHeader(transfer, body);
      } catch (error) {
        // An envelope with a bad header can never be exported, so its partial is not kept.
        this.transfer = undefined;
        await upload.abort();
        this.host.releaseTransfer(this, transfer.offer.username, transfer.offer.transferId);
        this.host.emit('transfer-failed', { ...transfer.offer, received: 0, error });
        throw error;
      }
    }
    await upload.write(body);
    if (upload.writtenOffset - upload.committedOffset >= this.host.checkpointIntervalBytes) {
      await upload.checkpoint();
    }

    if (upload.committedOffset > transfer.lastCommittedSent) {
      transfer.lastCommittedSent = upload.committedOffset;
      // Frames that arrived before the peer left are still stored. So a failed send of this
      // acknowledgement is not an error, and the next read reports the closed connection.
      const committed = { type: 'committed' as const, transferId: transfer.offer.transferId, offset: upload.committedOffset };
      this.queue(() => this.channel.send(committed).catch(() => undefined));
    }

    const now = Date.now();
    if (now - transfer.lastProgressAt >= PROGRESS_INTERVAL_MS) {
      transfer.lastProgressAt = now;
      this.host.emit('transfer-progress', { ...transfer.offer, received: upload.writtenOffset });
    }
  }

  /** Collects the envelope header as it arrives and checks it once complete. */
  private collectHeader(transfer: ActiveTransfer, body: Buffer): void {
    const parts = transfer.headerBytes as Buffer[];
    const missing = transfer.headerSize - transfer.headerCollected;
    const piece = body.subarray(0, Math.min(missing, body.length));
    parts.push(Buffer.from(piece));
    transfer.headerCollected += piece.length;
    if (transfer.headerCollected < transfer.headerSize) {
      return;
    }
    transfer.headerBytes = undefined;
    this.checkHeader(transfer, Buffer.concat(parts));
  }

  /**
   * Checks that the header parses, has the offered length, and has a passphrase + RSA stanza
   * for this receiver's key, so an envelope this receiver could never open is not stored.
   */
  private checkHeader(transfer: ActiveTransfer, header: Buffer): void {
    let stanzas;
    try {
      stanzas = parseHeader(header).stanzas;
    } catch (error) {
      throw new SftError('PROTOCOL_VIOLATION', `Transfer ${transfer.offer.transferId}: the envelope header is invalid: ${(error as Error).message}`);
    }
    const own = fingerprintBytes(this.host.publicKey);
    const combined: number[] = [StanzaType.passphraseRsa, StanzaType.sharedPassphraseRsa];
    const forUs = stanzas.some((stanza) => combined.includes(stanza.type) && 'fingerprint' in stanza && stanza.fingerprint.equals(own));
    if (!forUs) {
      throw new SftError(
        'PROTOCOL_VIOLATION',
        `Transfer ${transfer.offer.transferId}: the envelope has no passphrase + RSA stanza for this receiver's public key, so it could never be exported.`,
      );
    }
  }

  private async readHeaderPrefix(upload: Upload, length: number): Promise<void> {
    const transfer = this.transfer as ActiveTransfer;
    const handle = await fs.open(upload.dataPath, 'r');
    try {
      const prefix = Buffer.alloc(length);
      const { bytesRead } = await handle.read(prefix, 0, length, 0);
      transfer.headerBytes = [prefix.subarray(0, bytesRead)];
      transfer.headerCollected = bytesRead;
    } finally {
      await handle.close();
    }
  }

  private async end(sha256: string): Promise<void> {
    const transfer = this.transfer as ActiveTransfer;
    const upload = transfer.upload;
    if (upload.writtenOffset !== transfer.offer.envelopeSize) {
      throw new SftError(
        'PROTOCOL_VIOLATION',
        `Transfer ${transfer.offer.transferId} ended after ${upload.writtenOffset} of ${transfer.offer.envelopeSize} bytes.`,
      );
    }

    // The file is stored in the background while the next offer is read. Its reply is
    // queued behind earlier ones, so the sender sees replies in the order of its offers.
    this.transfer = undefined;
    this.state = 'ready';
    const finishing = upload.finish(sha256);
    finishing.catch(() => undefined);
    this.backgroundCommits++;
    this.queue(async () => {
      try {
        await this.answerEnd(transfer, finishing);
      } finally {
        this.backgroundCommits--;
      }
    });
    if (this.backgroundCommits >= MAX_BACKGROUND_COMMITS || this.stopping) {
      await this.replies;
    }
    if (this.stopping) {
      await this.closeAfterReplies();
    }
  }

  /** Waits for a finished file to be stored, then confirms it or rejects it with HASH_MISMATCH. */
  private async answerEnd(transfer: ActiveTransfer, finishing: Promise<StoreEntry>): Promise<void> {
    let entry: StoreEntry;
    try {
      entry = await finishing;
    } catch (error) {
      this.host.releaseTransfer(this, transfer.offer.username, transfer.offer.transferId);
      if (isSftError(error, 'HASH_MISMATCH')) {
        this.host.logger.error(`Transfer ${transfer.offer.transferId} from ${this.remoteAddress} failed: ${error.message}`);
        this.host.emit('transfer-failed', { ...transfer.offer, received: 0, error });
        await this.channel.send({ type: 'reject', transferId: transfer.offer.transferId, code: 'HASH_MISMATCH', message: error.message.slice(0, 1024) });
        return;
      }
      throw error;
    }

    this.host.releaseTransfer(this, transfer.offer.username, transfer.offer.transferId);
    await this.channel.send({ type: 'confirmed', transferId: transfer.offer.transferId, entryId: entry.id });
    this.host.logger.info(
      `Stored "${escapeForLog(entry.relativePath || entry.displayName)}" as entry ${entry.id} (${entry.envelopeSize} bytes, transfer ${entry.transferId}) from "${escapeForLog(entry.senderUsername, 64)}" at ${this.remoteAddress}.`,
    );
    this.host.emit('transfer-done', { ...transfer.offer, received: entry.envelopeSize, entry });
  }

  /** Closes the current upload, keeping its partial for resume. */
  private async releaseTransfer(reason: string): Promise<void> {
    const transfer = this.transfer;
    if (transfer === undefined) {
      return;
    }
    this.transfer = undefined;
    try {
      await transfer.upload.close();
    } catch (error) {
      this.host.logger.error(`Could not keep the partial of transfer ${transfer.offer.transferId}: ${(error as Error).message}`);
    }
    this.host.releaseTransfer(this, transfer.offer.username, transfer.offer.transferId);
    const received = transfer.upload.committedOffset;
    this.host.logger.warn(`Transfer ${transfer.offer.transferId} from ${this.remoteAddress} stopped at byte ${received} of ${transfer.offer.envelopeSize}: ${reason}. It can be resumed.`);
    const error = new SftError('TRANSFER_CANCELLED', `Transfer stopped at byte ${received}: ${reason}.`);
    this.host.emit('transfer-failed', { ...transfer.offer, received, error });
  }

  /** Returns the next message or data frame; throws TIMEOUT after `timeoutMs`. */
  private async nextMessage(timeoutMs: number, what?: string): Promise<SenderMessage | Frame> {
    const frame = await this.channel.next(timeoutMs, what);
    if (frame.type === 'data') {
      return frame;
    }
    const message = parseSenderMessage(frame.body);
    if (message.type === 'error') {
      throw new SftError('CONNECTION_FAILED', `The sender stopped with ${message.code}: ${message.message}`);
    }
    return message;
  }

  private unexpected(message: SenderMessage | Frame): SftError {
    const name = 'body' in message ? 'a data frame' : `"${message.type}"`;
    return new SftError('PROTOCOL_VIOLATION', `Unexpected ${name} in state ${this.state}.`);
  }

  /** Logs the error, sends it to the peer when the connection still works, and closes. */
  private async fail(error: unknown): Promise<void> {
    const failure = isSftError(error) ? error : new SftError('IO_FAILED', `Internal error: ${(error as Error)?.message ?? String(error)}`, { cause: error });
    const who = this.username === undefined ? this.remoteAddress : `"${escapeForLog(this.username, 64)}" at ${this.remoteAddress}`;
    const quiet = failure.code === 'CONNECTION_FAILED' || failure.code === 'TRANSFER_CANCELLED';
    if (quiet) {
      this.host.logger.info(`Connection ${this.id} from ${who} ended: ${failure.message}`);
    } else {
      this.host.logger.warn(`Connection ${this.id} from ${who} failed in state ${this.state}: ${failure.code}: ${failure.message}`);
    }
    if (!quiet && !this.channel.closed) {
      const code = failure.code === 'TIMEOUT' || failure.code.startsWith('PROTOCOL_') || failure.code === 'DISK_FULL' ? failure.code : 'IO_FAILED';
      const message = code === 'IO_FAILED' ? 'The receiver failed to store the file. Its log has the details.' : failure.message;
      await this.channel.closeWith({ type: 'error', code, message: message.slice(0, 1024) });
    } else {
      this.channel.destroy(failure);
    }
  }
}
