/**
 * An upload in progress: envelope bytes written to `partial/KEY.part`, with the committed
 * offset kept in `partial/KEY.json`.
 *
 * A new upload of at most BUFFERED_UPLOAD_MAX_BYTES starts in memory and creates no file
 * until its first checkpoint: `finish` writes it out once, and `close` (a broken
 * connection) writes the usual partial files, so small files cost few file operations.
 *
 * The committed offset counts bytes that are on disk and flushed with fsync; it is the
 * offset a sender resumes from after a broken connection. Bytes after it may be lost in a
 * crash, and are cut off when the upload is opened again. The SHA-256 of the envelope is
 * computed while bytes arrive; when an upload is opened again, the committed bytes are
 * read back from disk once to restore the hash, so the sender never sends them twice.
 */

import { createHash, Hash } from 'node:crypto';
import { promises as fs } from 'node:fs';

import { SftError } from '../errors';
import { isDiskFullError, readBoundedFile, toStorageError, writeFileAtomic } from './atomic-file';
import { isObject, isSize, SHA256_HEX_PATTERN, StoreEntry, TRANSFER_ID_PATTERN } from './entry';

/** Largest partial state file read, in bytes. */
export const MAX_PARTIAL_STATE_BYTES = 64 * 1024;

/** Largest envelope whose new upload is kept in memory until its first checkpoint. */
export const BUFFERED_UPLOAD_MAX_BYTES = 1024 * 1024;

/** Size of the reads that restore the hash of committed bytes. */
const REHASH_READ_BYTES = 1024 * 1024;

/** What `partial/KEY.json` holds: the offer, with names already safe, and the committed offset. */
export interface PartialState {
  version: 1;
  transferId: string;
  username: string;
  remoteAddress: string;
  displayName: string;
  relativePath: string;
  envelopeSize: number;
  plaintextSize: number;
  committedOffset: number;
  /** Time the upload began and the time of the last checkpoint, ISO 8601. */
  createdAt: string;
  updatedAt: string;
}

/** Services of the store that an upload needs. */
export interface UploadHost {
  readonly checkpointIntervalBytes: number;
  now(): number;
  /** Moves the finished envelope into `files/`, records its entry and returns it. */
  commitUpload(upload: Upload, sha256: string): Promise<StoreEntry>;
  /** Forgets the upload as active, which also frees its space reservation. */
  releaseUpload(upload: Upload): void;
}

type UploadStatus = 'open' | 'complete' | 'finished' | 'closed' | 'failed';

/** Handle of one upload, bound to one (username, transfer id). Get one from `Store.beginUpload`. */
export class Upload {
  /** Name of the partial files, derived from (username, transfer id). */
  readonly key: string;
  readonly dataPath: string;
  readonly statePath: string;
  readonly state: PartialState;

  private handle: fs.FileHandle | undefined;
  /** Bytes of an upload that has no partial files yet; undefined once they exist. */
  private buffered: Buffer[] | undefined;
  private stateWritten: boolean;
  private hash: Hash;
  private written: number;
  private committed: number;
  private status: UploadStatus;
  private readonly completedEntry: StoreEntry | undefined;
  private readonly host: UploadHost;
  private operations: Promise<unknown> = Promise.resolve();

  private constructor(
    host: UploadHost,
    key: string,
    paths: { dataPath: string; statePath: string },
    state: PartialState,
    opened: { handle?: fs.FileHandle; buffered?: Buffer[]; hash: Hash; committed: number; completedEntry?: StoreEntry },
  ) {
    this.host = host;
    this.key = key;
    this.dataPath = paths.dataPath;
    this.statePath = paths.statePath;
    this.state = state;
    this.handle = opened.handle;
    this.buffered = opened.buffered;
    this.stateWritten = opened.buffered === undefined;
    this.hash = opened.hash;
    this.written = opened.committed;
    this.committed = opened.committed;
    this.completedEntry = opened.completedEntry;
    this.status = opened.completedEntry === undefined ? 'open' : 'complete';
  }

  /**
   * Opens the partial files for `state`, resuming from the committed offset when they exist
   * for the same sizes and starting over otherwise.
   */
  static async open(
    host: UploadHost,
    key: string,
    paths: { dataPath: string; statePath: string },
    state: PartialState,
  ): Promise<{ upload: Upload; resumedFrom: number; discarded?: string }> {
    const previous = await readPartialState(paths.statePath);
    const discarded = describeMismatch(previous, state);
    const resumable = previous !== undefined && typeof previous !== 'string' && discarded === undefined;

    if (resumable) {
      const reopened = await reopenData(paths.dataPath, previous.committedOffset);
      if (reopened !== undefined) {
        const resumedState = { ...state, createdAt: previous.createdAt, committedOffset: reopened.committed };
        const upload = new Upload(host, key, paths, resumedState, reopened);
        return { upload, resumedFrom: reopened.committed };
      }
    }

    if (previous === undefined && state.envelopeSize <= BUFFERED_UPLOAD_MAX_BYTES) {
      const upload = new Upload(host, key, paths, { ...state, committedOffset: 0 }, { buffered: [], hash: createHash('sha256'), committed: 0 });
      return { upload, resumedFrom: 0 };
    }

    await writeFileAtomic(paths.statePath, JSON.stringify({ ...state, committedOffset: 0 }, null, 2) + '\n');
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(paths.dataPath, 'w', 0o600);
    } catch (error) {
      throw toStorageError(error, `create ${paths.dataPath}`);
    }
    const upload = new Upload(host, key, paths, { ...state, committedOffset: 0 }, { handle, hash: createHash('sha256'), committed: 0 });
    return { upload, resumedFrom: 0, discarded: resumable ? 'its partial file is missing' : discarded };
  }

  /** Returns an upload whose transfer already finished: nothing more to write, `finish` returns `entry`. */
  static completed(host: UploadHost, key: string, paths: { dataPath: string; statePath: string }, state: PartialState, entry: StoreEntry): Upload {
    return new Upload(host, key, paths, { ...state, committedOffset: entry.envelopeSize }, {
      hash: createHash('sha256'),
      committed: entry.envelopeSize,
      completedEntry: entry,
    });
  }

  get transferId(): string {
    return this.state.transferId;
  }

  get username(): string {
    return this.state.username;
  }

  get envelopeSize(): number {
    return this.state.envelopeSize;
  }

  /** Bytes on disk and flushed: the offset the sender sends from. */
  get committedOffset(): number {
    return this.committed;
  }

  /** Bytes written so far, committed or not. */
  get writtenOffset(): number {
    return this.written;
  }

  /** True when the transfer had already finished and its entry exists. */
  get isComplete(): boolean {
    return this.completedEntry !== undefined;
  }

  /** Bytes still to come, for the store's free-space reservation. */
  get remainingBytes(): number {
    return this.status === 'open' ? this.state.envelopeSize - this.written : 0;
  }

  /**
   * Appends `chunk` to the envelope. Calls are applied in the order they are made; do not
   * change `chunk` before the returned promise settles. Throws `PROTOCOL_VIOLATION` for bytes
   * beyond the offered envelope size, `DISK_FULL` when the disk fills (the committed bytes
   * stay for resume, the handle is closed).
   */
  write(chunk: Uint8Array): Promise<void> {
    return this.enqueue(async () => {
      if (this.status === 'complete' && chunk.length === 0) {
        return;
      }
      this.requireOpen('write');

      if (this.written + chunk.length > this.state.envelopeSize) {
        throw new SftError(
          'PROTOCOL_VIOLATION',
          `Upload ${this.state.transferId} received ${this.written + chunk.length} bytes, more than the offered envelope size of ${this.state.envelopeSize}.`,
        );
      }

      if (this.buffered !== undefined) {
        this.buffered.push(Buffer.from(chunk));
      } else {
        await this.writeAt(chunk, this.written);
      }

      this.hash.update(chunk);
      this.written += chunk.length;

      if (this.written - this.committed >= this.host.checkpointIntervalBytes) {
        await this.checkpointNow();
      }
    });
  }

  /** Flushes the written bytes with fsync, records them as committed, and returns the committed offset. */
  checkpoint(): Promise<number> {
    return this.enqueue(async () => {
      if (this.status === 'complete') {
        return this.committed;
      }
      this.requireOpen('checkpoint');
      await this.checkpointNow();
      return this.committed;
    });
  }

  /**
   * Checks that the whole envelope arrived and that its SHA-256 is `expectedSha256` (hex),
   * then stores it and returns its entry. On `HASH_MISMATCH` the partial is removed, so a
   * retry starts from offset 0.
   */
  finish(expectedSha256: string): Promise<StoreEntry> {
    return this.enqueue(async () => {
      const expected = typeof expectedSha256 === 'string' ? expectedSha256.toLowerCase() : '';
      if (!SHA256_HEX_PATTERN.test(expected)) {
        throw new SftError('PROTOCOL_VIOLATION', `Invalid SHA-256 for upload ${this.state.transferId}: expected 64 hex digits.`);
      }

      if (this.completedEntry !== undefined) {
        return this.finishCompleted(expected, this.completedEntry);
      }

      this.requireOpen('finish');
      if (this.written !== this.state.envelopeSize) {
        throw new SftError(
          'PROTOCOL_VIOLATION',
          `Upload ${this.state.transferId} ended after ${this.written} of ${this.state.envelopeSize} bytes. Resume the upload from offset ${this.committed}.`,
        );
      }

      const actual = this.hash.copy().digest('hex');
      if (actual !== expected) {
        await this.discard();
        throw new SftError(
          'HASH_MISMATCH',
          `Upload ${this.state.transferId}: the envelope's SHA-256 is ${actual}, the sender reported ${expected}. The upload was discarded; send the file again.`,
        );
      }

      if (this.buffered !== undefined) {
        // Only the data file is written: the store renames it at once, and a crash before
        // that leaves an orphan that the next open removes.
        await this.createDataFile();
        await this.syncData();
      } else {
        // After this checkpoint a crash leaves a complete partial that a retry finishes
        // without sending any bytes.
        await this.checkpointNow();
      }

      try {
        await this.closeHandle();
        const entry = await this.host.commitUpload(this, actual);
        this.status = 'finished';
        return entry;
      } catch (error) {
        this.status = 'failed';
        throw toStorageError(error, `store upload ${this.state.transferId}`);
      } finally {
        this.host.releaseUpload(this);
      }
    });
  }

  /** Stops the upload and removes its partial files. Does nothing to an upload that already finished. */
  abort(): Promise<void> {
    return this.enqueue(async () => {
      if (this.status !== 'open' && this.status !== 'failed') {
        return;
      }
      await this.discard();
    });
  }

  /**
   * Stops using the upload and keeps its partial files for a resume. Flushes what was
   * written first, unless an earlier error made the handle unusable.
   */
  close(): Promise<void> {
    return this.enqueue(async () => {
      if (this.status !== 'open') {
        return;
      }
      try {
        await this.checkpointNow();
      } catch {
        // fail() already closed the handle and cut the partial back to the committed offset.
        return;
      }
      await this.closeHandle();
      this.status = 'closed';
      this.host.releaseUpload(this);
    });
  }

  /** True once `partial/KEY.json` was written; an upload kept in memory until `finish` never writes it. */
  get hasStateFile(): boolean {
    return this.stateWritten;
  }

  private async checkpointNow(): Promise<void> {
    this.requireOpen('checkpoint');
    if (this.written === this.committed) {
      return;
    }

    if (this.buffered !== undefined) {
      await this.createDataFile();
    }
    try {
      await this.syncData();
      const state: PartialState = {
        ...this.state,
        committedOffset: this.written,
        updatedAt: new Date(this.host.now()).toISOString(),
      };
      await writeFileAtomic(this.statePath, JSON.stringify(state, null, 2) + '\n');
      this.stateWritten = true;
      Object.assign(this.state, state);
    } catch (error) {
      throw await this.fail(error, 'checkpoint');
    }
    this.committed = this.written;
  }

  /** Creates the data file of an upload that was in memory and writes its bytes. */
  private async createDataFile(): Promise<void> {
    const bytes = Buffer.concat(this.buffered ?? []);
    try {
      this.handle = await fs.open(this.dataPath, 'w', 0o600);
    } catch (error) {
      throw await this.fail(error, 'create the partial file of');
    }
    this.buffered = undefined;
    await this.writeAt(bytes, 0);
  }

  private async writeAt(bytes: Uint8Array, position: number): Promise<void> {
    const handle = this.requireHandle('write');
    try {
      let offset = 0;
      while (offset < bytes.length) {
        const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset, position + offset);
        offset += bytesWritten;
      }
    } catch (error) {
      throw await this.fail(error, 'write');
    }
  }

  private async syncData(): Promise<void> {
    try {
      await this.requireHandle('flush').sync();
    } catch (error) {
      throw await this.fail(error, 'flush');
    }
  }

  private finishCompleted(expected: string, entry: StoreEntry): StoreEntry {
    if (entry.sha256 !== expected) {
      throw new SftError(
        'HASH_MISMATCH',
        `Upload ${this.state.transferId} already finished as entry ${entry.id} with SHA-256 ${entry.sha256}, the sender reported ${expected}. Send the file again under a new transfer id.`,
      );
    }
    this.status = 'finished';
    return entry;
  }

  /** Closes the handle after an I/O error, cuts the partial back to the committed offset, and returns the error to throw. */
  private async fail(error: unknown, action: string): Promise<SftError> {
    if (error instanceof SftError && this.status === 'failed') {
      return error;
    }
    this.status = 'failed';
    this.buffered = undefined;
    this.host.releaseUpload(this);

    const handle = this.handle;
    this.handle = undefined;
    try {
      await handle?.truncate(this.committed);
    } catch {
      // The partial keeps extra bytes; reopening it cuts them off.
    }
    await handle?.close().catch(() => undefined);

    if (isDiskFullError(error)) {
      return new SftError(
        'DISK_FULL',
        `Could not ${action} upload ${this.state.transferId}: the disk is full. The ${this.committed} bytes committed so far are kept; free some space and resume.`,
        { cause: error },
      );
    }
    return toStorageError(error, `${action} upload ${this.state.transferId}`);
  }

  private async discard(): Promise<void> {
    this.buffered = undefined;
    await this.closeHandle().catch(() => undefined);
    this.status = 'closed';
    this.host.releaseUpload(this);
    await fs.rm(this.dataPath, { force: true });
    await fs.rm(this.statePath, { force: true });
  }

  private async closeHandle(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }

  private requireHandle(action: string): fs.FileHandle {
    const handle = this.requireOpen(action);
    if (handle === undefined) {
      throw new SftError('IO_FAILED', `Internal error: upload ${this.state.transferId} has no partial file to ${action}.`);
    }
    return handle;
  }

  /** Returns the data file's handle, or undefined while the upload is in memory. */
  private requireOpen(action: string): fs.FileHandle | undefined {
    if (this.status === 'complete') {
      throw new SftError('PROTOCOL_VIOLATION', `Cannot ${action} upload ${this.state.transferId}: it already finished as entry ${this.completedEntry?.id}.`);
    }
    if (this.status !== 'open' || (this.handle === undefined && this.buffered === undefined)) {
      throw new SftError('TRANSFER_CANCELLED', `Cannot ${action} upload ${this.state.transferId}: the upload is ${this.status}. Begin the upload again to resume it.`);
    }
    return this.handle;
  }

  private enqueue<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.operations.then(operation);
    this.operations = result.catch(() => undefined);
    return result;
  }
}

/** Reads a partial state file: undefined when missing, a string saying what is wrong when damaged. */
export async function readPartialState(statePath: string): Promise<PartialState | string | undefined> {
  let text: string | undefined;
  try {
    text = await readBoundedFile(statePath, MAX_PARTIAL_STATE_BYTES);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  if (text === undefined) {
    return undefined;
  }

  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return 'it is not valid JSON';
  }

  if (
    !isObject(data) ||
    data.version !== 1 ||
    typeof data.transferId !== 'string' ||
    !TRANSFER_ID_PATTERN.test(data.transferId) ||
    typeof data.username !== 'string' ||
    typeof data.remoteAddress !== 'string' ||
    typeof data.displayName !== 'string' ||
    typeof data.relativePath !== 'string' ||
    !isSize(data.envelopeSize) ||
    !isSize(data.plaintextSize) ||
    !isSize(data.committedOffset) ||
    data.committedOffset > data.envelopeSize ||
    typeof data.createdAt !== 'string' ||
    typeof data.updatedAt !== 'string'
  ) {
    return 'a field is missing or invalid';
  }
  return data as unknown as PartialState;
}

function describeMismatch(previous: PartialState | string | undefined, offer: PartialState): string | undefined {
  if (previous === undefined) {
    return undefined;
  }
  if (typeof previous === 'string') {
    return `its state file is damaged (${previous})`;
  }
  if (previous.username !== offer.username || previous.transferId !== offer.transferId) {
    return 'its state file belongs to another transfer';
  }
  if (previous.envelopeSize !== offer.envelopeSize || previous.plaintextSize !== offer.plaintextSize) {
    return `the new offer has other sizes (envelope ${offer.envelopeSize}, was ${previous.envelopeSize})`;
  }
  return undefined;
}

/**
 * Opens an existing partial data file, cuts it to the committed offset (or to its length
 * when shorter) and hashes those bytes. Returns undefined when the file is missing.
 */
async function reopenData(dataPath: string, committedOffset: number): Promise<{ handle: fs.FileHandle; hash: Hash; committed: number } | undefined> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(dataPath, 'r+');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return undefined;
    }
    throw toStorageError(error, `open ${dataPath}`);
  }

  try {
    const { size } = await handle.stat();
    const committed = Math.min(size, committedOffset);
    if (size !== committed) {
      await handle.truncate(committed);
    }

    const hash = createHash('sha256');
    const buffer = Buffer.alloc(Math.min(REHASH_READ_BYTES, Math.max(committed, 1)));
    let position = 0;
    while (position < committed) {
      const length = Math.min(buffer.length, committed - position);
      const { bytesRead } = await handle.read(buffer, 0, length, position);
      if (bytesRead === 0) {
        throw new SftError('IO_FAILED', `Partial file ${dataPath} ended at byte ${position}, before its committed offset ${committed}.`);
      }
      hash.update(buffer.subarray(0, bytesRead));
      position += bytesRead;
    }
    return { handle, hash, committed };
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw toStorageError(error, `reopen ${dataPath}`);
  }
}
