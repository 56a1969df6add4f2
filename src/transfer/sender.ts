/**
 * The sender: encrypts files and folders for a receiver and uploads them, resuming after a
 * broken connection.
 *
 * Each file becomes one envelope with a passphrase + RSA stanza for the receiver's public
 * key, encrypted while it is sent. A file counts as delivered only when the receiver
 * confirmed it. See docs/PROTOCOL.md ("Resume") for how a broken upload continues.
 */
import * as crypto from 'node:crypto';
import { promises as fs } from 'node:fs';
import { SftError, isSftError } from '../errors';
import { EnvelopeWriter, PassphraseKey, derivePassphraseKey, fingerprint as keyFingerprint } from '../crypto';
import { envelopeBytes } from './envelope-source';
import { KnownReceivers } from './known-receivers';
import { formatHostPort, parseReceiverAddress } from './link';
import { MAX_EAGER_ENVELOPE_BYTES, Offer } from './messages';
import { ConfirmFingerprint, SenderConnection } from './sender-connection';
import { SkippedPath, SourceFile, collectFiles } from './source-files';

export type { ConfirmFingerprint } from './sender-connection';
export type { SkippedPath, SourceFile } from './source-files';

/** Envelope bytes per data frame. */
export const DATA_FRAME_BYTES = 256 * 1024;
/** Bytes sent beyond the receiver's last committed offset before the sender waits. */
export const MAX_UNCOMMITTED_BYTES = 32 * 1024 * 1024;
/** Largest file sent eagerly; its envelope stays below MAX_EAGER_ENVELOPE_BYTES whatever its header. */
export const MAX_EAGER_FILE_BYTES = MAX_EAGER_ENVELOPE_BYTES / 2;
/** Maximum count and envelope bytes of eagerly sent files still waiting for their replies. */
export const EAGER_WINDOW_FILES = 64;
export const EAGER_WINDOW_BYTES = 8 * 1024 * 1024;
export const DEFAULT_RETRY_ATTEMPTS = 5;
export const DEFAULT_RETRY_BASE_DELAY_MS = 1000;
export const MAX_RETRY_DELAY_MS = 30_000;

export interface SendTimeouts {
  /** TCP and TLS handshake. */
  connectMs: number;
  /** Replies to `hello` and `login`, and the next `committed` when the window is full. */
  replyMs: number;
  /** Reply to an offer; long, because the receiver's user may be asked first. */
  offerMs: number;
  /** `confirmed` after `end`, on top of 1 s per 100 MiB for the receiver's flush. */
  confirmMs: number;
}

export const DEFAULT_SEND_TIMEOUTS: Readonly<SendTimeouts> = {
  connectMs: 15_000,
  replyMs: 60_000,
  offerMs: 10 * 60_000,
  confirmMs: 60_000,
};

export type SendProgress =
  | { type: 'connecting'; hostPort: string; attempt: number }
  | { type: 'connected'; hostPort: string; fingerprint: string }
  | { type: 'file-start'; file: SourceFile; index: number; count: number; offset: number; envelopeSize: number }
  | { type: 'file-progress'; file: SourceFile; sent: number; committed: number; envelopeSize: number }
  /** A file continues at `offset`; `rehashedBytes` were encrypted and hashed again but not sent (0 when a hash snapshot existed). */
  | { type: 'file-resume'; file: SourceFile; offset: number; rehashedBytes: number }
  | { type: 'file-delivered'; file: SourceFile; entryId: string; transferId: string }
  | { type: 'file-rejected'; file: SourceFile; code: string; message: string }
  | { type: 'skipped'; path: string; reason: string }
  | { type: 'retry'; attempt: number; delayMs: number; error: SftError };

export interface SendOptions {
  /** Receiver link (`sft://HOST:PORT#SHA256:...`) or `HOST:PORT`. */
  to: string;
  username: string;
  password: string;
  /** Passphrase for the envelopes; exporting needs it and the receiver's private key. */
  passphrase: string;
  /** Files and folders. */
  paths: readonly string[];
  /** Pinned receiver fingerprint; overrides the known-receivers file and a link's fingerprint must match it. */
  trust?: string;
  knownReceivers: KnownReceivers;
  /** Asked about a receiver seen for the first time; without it an unknown receiver is rejected. */
  confirmFingerprint?: ConfirmFingerprint;
  onProgress?: (event: SendProgress) => void;
  /** Cancels the send; the current file's partial stays resumable on the receiver but is never listed. */
  signal?: AbortSignal;
  retry?: { attempts?: number; baseDelayMs?: number };
  /** Local address to connect from, for hosts with several addresses. */
  localAddress?: string;
  timeouts?: Partial<SendTimeouts>;
  /** PBKDF2 iterations of the passphrase layer; only tests lower it. */
  iterations?: number;
  /** Program name and version sent in `hello`. */
  software?: string;
}

export interface DeliveredFile {
  file: SourceFile;
  status: 'delivered';
  transferId: string;
  entryId: string;
  envelopeSize: number;
  sha256: string;
}

export interface RejectedFile {
  file: SourceFile;
  status: 'rejected';
  transferId: string;
  code: string;
  message: string;
}

export interface SendResult {
  files: (DeliveredFile | RejectedFile)[];
  skipped: SkippedPath[];
  /** Fingerprint of the receiver's certificate. */
  fingerprint: string;
}

/** One file's envelope and the sender's state of its upload. */
interface OutgoingFile {
  file: SourceFile;
  writer: EnvelopeWriter;
  transferId: string;
  envelopeSize: number;
  /** SHA-256 states at the end of each data frame the receiver has not committed yet; 0 is implicit. */
  snapshots: Map<number, crypto.Hash>;
  committed: number;
  sha256: string | undefined;
}

/** Minimum time between two 'file-progress' events, in milliseconds. */
const PROGRESS_INTERVAL_MS = 200;

/** System errors that end a send whose receiver was never reached: nothing listens there. */
const FINAL_FIRST_CONNECT_ERRORS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH']);

/** Codes after which connecting again may help. */
const RETRYABLE_CODES = new Set(['CONNECTION_FAILED', 'TIMEOUT']);

/**
 * Sends files and folders to a receiver. Resolves with one result per file once each was
 * confirmed or rejected. Throws SftError for what stops the whole send: an unknown or
 * changed fingerprint, a failed login, cancellation, or connection failures after the
 * retries ran out. Files confirmed before such an error stay delivered.
 */
export async function sendFiles(options: SendOptions): Promise<SendResult> {
  const session = new SendSession(options);
  return session.run();
}

class SendSession {
  private readonly host: string;
  private readonly port: number;
  private readonly hostPort: string;
  private readonly trust: string | undefined;
  private readonly timeouts: SendTimeouts;
  private readonly attempts: number;
  private readonly baseDelayMs: number;
  private connection: SenderConnection | undefined;
  private publicKeyPem: string | undefined;
  private fingerprint = '';
  private failures = 0;
  private connectCount = 0;
  /** Transfer id of the file whose data frames are being sent, for a `cancel` on abort. */
  private streaming: string | undefined;
  /** True once a login succeeded; until then a refused connection is not retried. */
  private reached = false;
  /** The passphrase's key, derived once for every envelope of this send. */
  private passphraseKey: Promise<PassphraseKey> | undefined;

  constructor(private readonly options: SendOptions) {
    const address = parseReceiverAddress(options.to, 'the receiver address');
    this.host = address.host;
    this.port = address.port;
    this.hostPort = formatHostPort(address.host, address.port);
    if (options.trust !== undefined && address.fingerprint !== undefined && options.trust !== address.fingerprint) {
      throw new SftError('USAGE', `The fingerprint in the link (${address.fingerprint}) differs from --trust (${options.trust}). Give only one of them.`);
    }
    this.trust = options.trust ?? address.fingerprint;
    this.timeouts = { ...DEFAULT_SEND_TIMEOUTS, ...options.timeouts };
    this.attempts = options.retry?.attempts ?? DEFAULT_RETRY_ATTEMPTS;
    this.baseDelayMs = options.retry?.baseDelayMs ?? DEFAULT_RETRY_BASE_DELAY_MS;
    if (!Number.isSafeInteger(this.attempts) || this.attempts < 0) {
      throw new SftError('USAGE', `Invalid retry count ${this.attempts}; use a whole number of 0 or more.`);
    }
    if (options.passphrase.length === 0) {
      throw new SftError('USAGE', 'The passphrase is empty. Give a passphrase; exporting the files will need it.');
    }
  }

  async run(): Promise<SendResult> {
    const { files, skipped } = await collectFiles(this.options.paths);
    for (const item of skipped) {
      this.progress({ type: 'skipped', path: item.path, reason: item.reason });
    }
    if (files.length === 0) {
      throw new SftError('FILE_NOT_FOUND', `No regular file found in ${this.options.paths.join(', ')}. Give files or folders that contain files.`);
    }

    const results: SendResult['files'] = new Array(files.length);
    const onAbort = (): void => this.abortConnection();
    this.options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      let index = 0;
      while (index < files.length) {
        if (files[index].size <= MAX_EAGER_FILE_BYTES) {
          index = await this.sendEagerRun(files, index, results);
        } else {
          results[index] = await this.sendWithRetries(files[index], index, files.length);
          index++;
        }
      }
      await this.connection?.close();
      this.connection = undefined;
    } finally {
      this.options.signal?.removeEventListener('abort', onAbort);
      this.dropConnection(new SftError('CONNECTION_FAILED', 'The send stopped.'));
    }
    return { files: results, skipped, fingerprint: this.fingerprint };
  }

  /**
   * Sends one file with offers that wait for `accept`, resuming after broken connections.
   * `prepared` is the file's envelope when an earlier attempt made one.
   */
  private async sendWithRetries(file: SourceFile, index: number, count: number, prepared?: OutgoingFile): Promise<DeliveredFile | RejectedFile> {
    let upload = prepared;
    for (;;) {
      this.checkCancelled();
      try {
        const connection = await this.connect();
        upload ??= await this.prepare(file, connection);
        return await this.sendFile(connection, upload, index, count);
      } catch (error) {
        await this.recover(error);
      }
    }
  }

  /**
   * Handles a failed attempt: drops the connection, then throws when the error is final or
   * the retries ran out, and otherwise waits the backoff delay.
   */
  private async recover(error: unknown): Promise<void> {
    const failure = this.cancelledOr(error);
    this.dropConnection(failure);
    // Nothing listening at an address never reached in this send is reported at once, as
    // ssh does. Resets and timeouts are retried: a busy receiver closes new connections.
    if (!RETRYABLE_CODES.has(failure.code) || (!this.reached && FINAL_FIRST_CONNECT_ERRORS.has(errnoCode(failure.cause) ?? ''))) {
      throw failure;
    }
    this.failures++;
    if (this.failures > this.attempts) {
      throw new SftError(failure.code, `${failure.message} Gave up after ${this.attempts} retries.`, { cause: failure });
    }
    const delayMs = backoffDelay(this.baseDelayMs, this.failures);
    this.progress({ type: 'retry', attempt: this.failures, delayMs, error: failure });
    await sleep(delayMs, this.options.signal);
  }

  /**
   * Sends the small files from `files[start]` on eagerly. Each offer is followed at once by
   * its envelope and `end`, and the replies are read while later files go out, at most
   * EAGER_WINDOW_FILES behind. Returns the index of the first file it did not take. After a
   * broken connection, the files still waiting for replies are resumed one by one.
   */
  private async sendEagerRun(files: SourceFile[], start: number, results: SendResult['files']): Promise<number> {
    const waiting: Array<{ upload: OutgoingFile; index: number }> = [];
    let waitingBytes = 0;
    let next = start;
    try {
      const connection = await this.connect();
      // The oldest file leaves `waiting` only once settled, so a failure here resumes it too.
      const settleOldest = async (): Promise<void> => {
        const oldest = waiting[0];
        results[oldest.index] = await this.settleEager(connection, oldest.upload);
        waitingBytes -= oldest.upload.envelopeSize;
        waiting.shift();
      };

      while (next < files.length && files[next].size <= MAX_EAGER_FILE_BYTES) {
        this.checkCancelled();
        const upload = await this.prepare(files[next], connection);
        while (waiting.length > 0 && (waiting.length >= EAGER_WINDOW_FILES || waitingBytes + upload.envelopeSize > EAGER_WINDOW_BYTES)) {
          await settleOldest();
        }
        waiting.push({ upload, index: next });
        waitingBytes += upload.envelopeSize;
        next++;
        await this.sendEager(connection, upload, next - 1, files.length);
      }
      while (waiting.length > 0) {
        await settleOldest();
      }
    } catch (error) {
      await this.recover(error);
      for (const { upload, index } of waiting) {
        results[index] = await this.sendWithRetries(upload.file, index, files.length, upload);
      }
    }
    return next;
  }

  /** Sends a small file's offer, whole envelope and `end` without waiting for a reply. */
  private async sendEager(connection: SenderConnection, upload: OutgoingFile, index: number, count: number): Promise<void> {
    const { file, transferId } = upload;
    const envelope = upload.writer.sealWhole(await readWholeFile(file));
    upload.sha256 = crypto.createHash('sha256').update(envelope).digest('hex');

    this.progress({ type: 'file-start', file, index, count, offset: 0, envelopeSize: upload.envelopeSize });
    await connection.channel.send({ ...this.offerFor(upload), eager: true });
    for (let offset = 0; offset < envelope.length; offset += DATA_FRAME_BYTES) {
      await connection.channel.sendData(envelope.subarray(offset, offset + DATA_FRAME_BYTES));
    }
    await connection.channel.send({ type: 'end', transferId, sha256: upload.sha256 });
    this.progress({ type: 'file-progress', file, sent: envelope.length, committed: 0, envelopeSize: upload.envelopeSize });
  }

  /** Reads the reply to the offer of an eagerly sent file, then its confirmation. */
  private async settleEager(connection: SenderConnection, upload: OutgoingFile): Promise<DeliveredFile | RejectedFile> {
    const { file, transferId } = upload;
    const reply = await connection.expect(['accept', 'reject'], this.timeouts.offerMs, `the reply to the offer of ${file.relativePath}`);
    this.checkTransferId(reply.transferId, transferId);
    if (reply.type === 'accept' && reply.offset !== 0) {
      throw new SftError('PROTOCOL_VIOLATION', `Receiver ${this.hostPort} requested a resume of the eager offer of ${file.relativePath} at byte ${reply.offset}.`);
    }
    const result = reply.type === 'reject'
      ? reply
      : await connection.expect(['confirmed', 'reject'], this.timeouts.confirmMs, `the confirmation of ${file.relativePath}`);
    this.checkTransferId(result.transferId, transferId);
    return this.fileResult(upload, result);
  }

  private checkTransferId(received: string, expected: string): void {
    if (received !== expected) {
      throw new SftError('PROTOCOL_VIOLATION', `Receiver ${this.hostPort} replied for transfer ${received} instead of ${expected}.`);
    }
  }

  /** Returns a file's result from its final reply, `confirmed` or `reject`, and reports it. */
  private fileResult(
    upload: OutgoingFile,
    answer: { type: 'confirmed'; entryId: string } | { type: 'reject'; code: string; message: string },
  ): DeliveredFile | RejectedFile {
    const { file, transferId } = upload;
    this.failures = 0;
    if (answer.type === 'reject') {
      this.progress({ type: 'file-rejected', file, code: answer.code, message: answer.message });
      return { file, status: 'rejected', transferId, code: answer.code, message: answer.message };
    }
    this.progress({ type: 'file-delivered', file, entryId: answer.entryId, transferId });
    return { file, status: 'delivered', transferId, entryId: answer.entryId, envelopeSize: upload.envelopeSize, sha256: upload.sha256 as string };
  }

  private offerFor(upload: OutgoingFile): Offer {
    return {
      type: 'offer',
      transferId: upload.transferId,
      name: upload.file.name,
      path: upload.file.relativePath,
      size: upload.envelopeSize,
      headerSize: upload.writer.header.length,
      plaintextSize: upload.file.size,
    };
  }

  /** Creates the file's envelope writer; it needs the receiver's public key from the first login. */
  private async prepare(file: SourceFile, connection: SenderConnection): Promise<OutgoingFile> {
    this.passphraseKey ??= derivePassphraseKey(this.options.passphrase, this.options.iterations);
    const recipient = {
      kind: 'passphrase+rsa' as const,
      passphrase: await this.passphraseKey,
      publicKey: connection.publicKey,
    };
    const writer = await EnvelopeWriter.create([recipient], { name: file.name, size: file.size, mtimeMs: file.mtimeMs });
    return {
      file,
      writer,
      transferId: crypto.randomBytes(16).toString('hex'),
      envelopeSize: writer.sizeFor(file.size),
      snapshots: new Map(),
      committed: 0,
      sha256: undefined,
    };
  }

  private async connect(): Promise<SenderConnection> {
    if (this.connection !== undefined && this.connection.error === undefined) {
      return this.connection;
    }
    this.connectCount++;
    this.progress({ type: 'connecting', hostPort: this.hostPort, attempt: this.connectCount });
    const connection = await SenderConnection.open({
      host: this.host,
      port: this.port,
      username: this.options.username,
      password: this.options.password,
      trust: this.trust,
      knownReceivers: this.options.knownReceivers,
      confirmFingerprint: this.options.confirmFingerprint,
      localAddress: this.options.localAddress,
      connectTimeoutMs: this.timeouts.connectMs,
      replyTimeoutMs: this.timeouts.replyMs,
      software: (this.options.software ?? 'sft').slice(0, 64),
      signal: this.options.signal,
      onVerified: (fingerprint) => {
        this.fingerprint = fingerprint;
      },
    });

    // Envelopes already made for the first key must stay openable, so the key may not change mid-send.
    if (this.publicKeyPem !== undefined && connection.publicKeyPem !== this.publicKeyPem) {
      connection.destroy(new SftError('KEY_INVALID', 'Receiver public key changed.'));
      throw new SftError(
        'KEY_INVALID',
        `Receiver ${this.hostPort} sent a different public key (${keyFingerprint(connection.publicKey)}) after reconnecting. Nothing more was sent; start the send again.`,
      );
    }
    this.publicKeyPem = connection.publicKeyPem;
    this.connection = connection;
    this.reached = true;
    this.progress({ type: 'connected', hostPort: this.hostPort, fingerprint: this.fingerprint });
    return connection;
  }

  private async sendFile(connection: SenderConnection, upload: OutgoingFile, index: number, count: number): Promise<DeliveredFile | RejectedFile> {
    const { file, transferId } = upload;
    await this.checkUnchanged(file);

    await connection.channel.send(this.offerFor(upload));
    const answer = await connection.expect(['accept', 'reject'], this.timeouts.offerMs, `the answer to the offer of ${file.relativePath}`);
    this.checkTransferId(answer.transferId, transferId);
    if (answer.type === 'reject') {
      return this.fileResult(upload, answer);
    }
    if (answer.offset > upload.envelopeSize) {
      throw new SftError('PROTOCOL_VIOLATION', `Receiver ${this.hostPort} asked to resume at byte ${answer.offset} of a ${upload.envelopeSize}-byte envelope.`);
    }

    this.progress({ type: 'file-start', file, index, count, offset: answer.offset, envelopeSize: upload.envelopeSize });
    await this.stream(connection, upload, answer.offset);

    await connection.channel.send({ type: 'end', transferId, sha256: upload.sha256 as string });
    const confirmMs = this.timeouts.confirmMs + Math.ceil(upload.envelopeSize / (100 * 1024 * 1024)) * 1000;
    const result = await connection.expect(['confirmed', 'reject'], confirmMs, `the confirmation of ${file.relativePath}`);
    this.checkTransferId(result.transferId, transferId);
    return this.fileResult(upload, result);
  }

  /**
   * Sends the envelope from `offset` and leaves its SHA-256 in `upload.sha256`. The hash
   * continues from the snapshot at `offset`. Without one (the receiver lost committed bytes),
   * it continues from the nearest earlier one and hashes the bytes in between without sending them.
   */
  private async stream(connection: SenderConnection, upload: OutgoingFile, offset: number): Promise<void> {
    let base = 0;
    for (const snapshotOffset of upload.snapshots.keys()) {
      if (snapshotOffset <= offset && snapshotOffset > base) {
        base = snapshotOffset;
      }
    }
    const snapshot = upload.snapshots.get(base);
    const hash = snapshot === undefined ? crypto.createHash('sha256') : snapshot.copy();
    for (const key of [...upload.snapshots.keys()]) {
      if (key > offset) {
        upload.snapshots.delete(key);
      }
    }
    if (offset > 0) {
      this.progress({ type: 'file-resume', file: upload.file, offset, rehashedBytes: offset - base });
    }

    let position = base;
    let sent = offset;
    let lastProgressAt = 0;
    let wakeSender: (() => void) | undefined;
    upload.committed = offset;
    connection.onCommitted = (message) => {
      if (message.transferId !== upload.transferId || message.offset <= upload.committed) {
        return;
      }
      upload.committed = message.offset;
      this.failures = 0;
      for (const key of [...upload.snapshots.keys()]) {
        if (key < message.offset) {
          upload.snapshots.delete(key);
        }
      }
      wakeSender?.();
    };

    const pending: Buffer[] = [];
    let pendingBytes = 0;
    const sendFrame = async (size: number): Promise<void> => {
      const frame = takeBytes(pending, size);
      pendingBytes -= size;
      hash.update(frame);
      while (sent - upload.committed >= MAX_UNCOMMITTED_BYTES) {
        await this.waitForCommit(connection, (wake) => (wakeSender = wake));
      }
      await connection.channel.sendData(frame);
      sent += frame.length;
      upload.snapshots.set(sent, hash.copy());

      const now = Date.now();
      if (now - lastProgressAt >= PROGRESS_INTERVAL_MS) {
        lastProgressAt = now;
        this.progress({ type: 'file-progress', file: upload.file, sent, committed: upload.committed, envelopeSize: upload.envelopeSize });
      }
    };

    this.streaming = upload.transferId;
    try {
      for await (const piece of envelopeBytes(upload.writer, upload.file.path, upload.file.size, base)) {
        this.checkCancelled();
        if (connection.error) {
          throw connection.error;
        }
        let bytes = piece;
        if (position < offset) {
          const hashOnly = Math.min(bytes.length, offset - position);
          hash.update(bytes.subarray(0, hashOnly));
          position += hashOnly;
          bytes = bytes.subarray(hashOnly);
          if (bytes.length === 0) {
            continue;
          }
        }
        position += bytes.length;
        pending.push(bytes);
        pendingBytes += bytes.length;
        while (pendingBytes >= DATA_FRAME_BYTES) {
          await sendFrame(DATA_FRAME_BYTES);
        }
      }
      if (pendingBytes > 0) {
        await sendFrame(pendingBytes);
      }
    } finally {
      this.streaming = undefined;
    }

    if (sent !== upload.envelopeSize) {
      throw new SftError('IO_FAILED', `Internal error: sent ${sent} of ${upload.envelopeSize} bytes of ${upload.file.path}.`);
    }
    upload.sha256 = hash.digest('hex');
    this.progress({ type: 'file-progress', file: upload.file, sent, committed: upload.committed, envelopeSize: upload.envelopeSize });
  }

  /** Waits for the receiver's next `committed` message, for at most the reply timeout. */
  private waitForCommit(connection: SenderConnection, setWake: (wake: () => void) => void): Promise<void> {
    if (connection.error) {
      return Promise.reject(connection.error);
    }
    return new Promise<void>((resolve, reject) => {
      let unsubscribe = (): void => undefined;
      const finish = (error?: SftError): void => {
        clearTimeout(timer);
        unsubscribe();
        setWake(() => undefined);
        if (error) {
          reject(error);
        } else {
          resolve();
        }
      };
      const timer = setTimeout(() => {
        finish(new SftError('TIMEOUT', `Receiver ${this.hostPort} committed nothing for ${this.timeouts.replyMs} ms.`));
      }, this.timeouts.replyMs);
      unsubscribe = connection.onFailure((error) => finish(error));
      setWake(() => finish());
    });
  }

  /** Rejects a file that changed since it was listed, so a resumed envelope never mixes two versions. */
  private async checkUnchanged(file: SourceFile): Promise<void> {
    let stats;
    try {
      stats = await fs.stat(file.path);
    } catch (error) {
      throw new SftError('IO_FAILED', `Cannot read ${file.path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`, { cause: error });
    }
    if (stats.size !== file.size || stats.mtimeMs !== file.mtimeMs) {
      throw new SftError('IO_FAILED', `${file.path} changed while it was being sent. Send it again once it no longer changes.`);
    }
  }

  /** Tells the receiver that the current file stops here (its partial stays resumable) and closes. */
  private abortConnection(): void {
    const connection = this.connection;
    if (connection === undefined) {
      return;
    }
    const message = this.streaming !== undefined ? { type: 'cancel' as const, transferId: this.streaming } : { type: 'bye' as const };
    void connection.channel.closeWith(message);
  }

  private dropConnection(error: SftError): void {
    this.connection?.destroy(error);
    this.connection = undefined;
  }

  private checkCancelled(): void {
    if (this.options.signal?.aborted) {
      throw new SftError('TRANSFER_CANCELLED', 'The send was cancelled. Files confirmed so far stay on the receiver.');
    }
  }

  private cancelledOr(error: unknown): SftError {
    if (this.options.signal?.aborted) {
      return new SftError('TRANSFER_CANCELLED', 'The send was cancelled. Files confirmed so far stay on the receiver.', { cause: error });
    }
    if (isSftError(error)) {
      return error;
    }
    return new SftError('IO_FAILED', `Internal error while sending: ${(error as Error)?.message ?? String(error)}`, { cause: error });
  }

  private progress(event: SendProgress): void {
    try {
      this.options.onProgress?.(event);
    } catch {
      // A failing progress display must not stop the transfer.
    }
  }
}

function errnoCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null ? (error as NodeJS.ErrnoException).code : undefined;
}

/**
 * Reads a small file whole, after checking on the open file that its size and modification
 * time are still those it was listed with. Throws IO_FAILED when it cannot be read or changed.
 */
async function readWholeFile(file: SourceFile): Promise<Buffer> {
  const changed = (): SftError => new SftError('IO_FAILED', `${file.path} changed while it was being sent. Send it again once it no longer changes.`);
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(file.path, 'r');
    const stats = await handle.stat();
    if (stats.size !== file.size || stats.mtimeMs !== file.mtimeMs) {
      throw changed();
    }
    const bytes = Buffer.allocUnsafe(file.size);
    let filled = 0;
    while (filled < file.size) {
      const { bytesRead } = await handle.read(bytes, filled, file.size - filled, filled);
      if (bytesRead === 0) {
        throw changed();
      }
      filled += bytesRead;
    }
    return bytes;
  } catch (error) {
    if (isSftError(error)) {
      throw error;
    }
    throw new SftError('IO_FAILED', `Cannot read ${file.path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`, { cause: error });
  } finally {
    await handle?.close();
  }
}

/** Removes and returns the first `size` bytes of `parts`. */
function takeBytes(parts: Buffer[], size: number): Buffer {
  const head = parts[0];
  if (head.length >= size) {
    if (head.length === size) {
      parts.shift();
    } else {
      parts[0] = head.subarray(size);
    }
    return head.subarray(0, size);
  }
  const out = Buffer.allocUnsafe(size);
  let filled = 0;
  while (filled < size) {
    const head = parts[0];
    const take = Math.min(head.length, size - filled);
    head.copy(out, filled, 0, take);
    filled += take;
    if (take === head.length) {
      parts.shift();
    } else {
      parts[0] = head.subarray(take);
    }
  }
  return out;
}

/** Exponential backoff with jitter: base × 2^(attempt−1), at most MAX_RETRY_DELAY_MS, times 0.5 to 1. */
export function backoffDelay(baseDelayMs: number, attempt: number): number {
  const exponential = Math.min(MAX_RETRY_DELAY_MS, baseDelayMs * 2 ** Math.min(attempt - 1, 20));
  return Math.round(exponential * (0.5 + Math.random() / 2));
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new SftError('TRANSFER_CANCELLED', 'The send was cancelled.'));
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new SftError('TRANSFER_CANCELLED', 'The send was cancelled. Files confirmed so far stay on the receiver.'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
