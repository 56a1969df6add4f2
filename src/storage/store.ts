/**
 * The receiver's store: a folder of received envelopes, still encrypted, with their index.
 *
 * Layout (folders mode 0700, files mode 0600):
 *   index.json          all entries; a cache that can be rebuilt from the sidecars
 *   store.lock          pid of the process that has the store open for writing
 *   files/ID.sft        envelope, ID = 32 random hex digits, never a name from the network
 *   files/ID.json       sidecar: the entry of that envelope
 *   partial/KEY.part    upload in progress, KEY derived from (username, transfer id)
 *   partial/KEY.json    its state (see `upload.ts`)
 *
 * The sidecars are the record of what the store holds. An upload is stored by writing its
 * sidecar first and then renaming its partial file into `files/`. An entry is removed by
 * renaming its envelope to a temporary name first. So after a crash at any point, `open`
 * finds either a whole envelope with its sidecar or no envelope, and repairs the index.
 */

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';

import { SftError } from '../errors';
import { ACCOUNTS_FILE_NAME, validateUsername } from './accounts';
import {
  FolderFlusher,
  PRIVATE_DIRECTORY_MODE,
  readBoundedFile,
  syncDirectory,
  TEMP_SUFFIX,
  temporaryPathFor,
  toStorageError,
  writeFileAtomic,
  writeNewFileDurably,
} from './atomic-file';
import {
  ENTRY_ID_PATTERN,
  formatIndex,
  formatSidecar,
  isSize,
  MAX_INDEX_FILE_BYTES,
  MAX_REMOTE_ADDRESS_LENGTH,
  MAX_SIDECAR_BYTES,
  parseIndex,
  parseSidecar,
  StoreEntry,
  TRANSFER_ID_PATTERN,
} from './entry';
import { displayName, escapeForLog, safeRelativePath } from './names';
import { PartialState, readPartialState, Upload, UploadHost } from './upload';

export type { StoreEntry } from './entry';
export type { Upload } from './upload';

/** Free space kept on the disk beyond every accepted upload, by default: 64 MiB. */
export const DEFAULT_MIN_FREE_BYTES = 64 * 1024 * 1024;

/** Bytes written between automatic checkpoints, by default: 8 MiB. */
export const DEFAULT_CHECKPOINT_INTERVAL_BYTES = 8 * 1024 * 1024;
/** Age up to which a free-space reading serves later offers. */
const FREE_SPACE_READING_MS = 100;
/** Maximum delay before a stored file is written to index.json. */
export const INDEX_SAVE_DELAY_MS = 500;

export const INDEX_FILE_NAME = 'index.json';
export const LOCK_FILE_NAME = 'store.lock';
export const FILES_FOLDER_NAME = 'files';
export const PARTIAL_FOLDER_NAME = 'partial';

/** Age after which a temporary file of accounts.json counts as a crash's leftover. */
const ACCOUNTS_TEMP_FILE_MIN_AGE_MS = 60 * 1000;

const ENVELOPE_SUFFIX = '.sft';
const SIDECAR_SUFFIX = '.json';
const PARTIAL_DATA_SUFFIX = '.part';
const PARTIAL_STATE_SUFFIX = '.json';
/** Read size of openEnvelope(). The fs default of 64 KiB would take 16 times as many reads and callbacks. */
const ENVELOPE_READ_BYTES = 1024 * 1024;

/** Destination of the store's log lines. A VS Code `LogOutputChannel` fits. */
export interface StoreLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface StoreOptions {
  /** Largest envelope accepted, in bytes; no limit when unset. */
  maxFileSize?: number;
  /** Free space kept on the disk beyond every accepted upload, in bytes. Default 64 MiB. */
  minFreeBytes?: number;
  /** Bytes written between automatic checkpoints of an upload. Default 8 MiB. */
  checkpointIntervalBytes?: number;
  /** Opens without taking the lock, repairing or writing anything (for `sft list` beside a running receiver). */
  readOnly?: boolean;
  logger?: StoreLogger;
  /** Current time in milliseconds; injectable for tests. Default `Date.now`. */
  now?: () => number;
}

/** An offer as the sender made it; `displayName` and `relativePath` are raw and made safe by the store. */
export interface UploadOffer {
  transferId: string;
  /** Account the sender logged in with. */
  username: string;
  remoteAddress: string;
  displayName: string;
  relativePath: string;
  envelopeSize: number;
  plaintextSize: number;
}

const silentLogger: StoreLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** A store folder opened by this process. */
export class Store {
  readonly dir: string;
  private readonly filesDir: string;
  private readonly partialDir: string;
  private readonly indexPath: string;
  private readonly lockPath: string;
  private readonly options: Required<Omit<StoreOptions, 'maxFileSize' | 'logger' | 'now'>> & { maxFileSize: number | undefined };
  private readonly logger: StoreLogger;
  private readonly clock: () => number;

  private readonly entries = new Map<string, StoreEntry>();
  private readonly filesFlusher: FolderFlusher;
  /** Entry id by sender and transfer id, to find a finished transfer without a scan. */
  private readonly entryByTransfer = new Map<string, string>();
  private readonly activeUploads = new Map<string, Upload>();
  /** Bytes promised to uploads that are being set up and are not in `activeUploads` yet. */
  private pendingReservations = 0;
  /** Serializes `beginUpload` calls per upload key. */
  private readonly beginQueues = new Map<string, Promise<unknown>>();

  private indexWriteChain: Promise<void> = Promise.resolve();
  private queuedIndexWrite: Promise<void> | undefined;
  private indexSaveTimer: NodeJS.Timeout | undefined;
  /** The last free-space reading, and the envelope bytes offered since it was taken. */
  private freeSpace: { readAt: number; available: number; offeredSince: number } | undefined;
  private closed = false;

  private constructor(dir: string, options: StoreOptions) {
    this.dir = path.resolve(dir);
    this.filesDir = path.join(this.dir, FILES_FOLDER_NAME);
    this.filesFlusher = new FolderFlusher(this.filesDir);
    this.partialDir = path.join(this.dir, PARTIAL_FOLDER_NAME);
    this.indexPath = path.join(this.dir, INDEX_FILE_NAME);
    this.lockPath = path.join(this.dir, LOCK_FILE_NAME);
    this.logger = options.logger ?? silentLogger;
    this.clock = options.now ?? Date.now;
    this.options = {
      maxFileSize: options.maxFileSize,
      minFreeBytes: options.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES,
      checkpointIntervalBytes: options.checkpointIntervalBytes ?? DEFAULT_CHECKPOINT_INTERVAL_BYTES,
      readOnly: options.readOnly ?? false,
    };
  }

  /**
   * Opens the store in `dir`, creating it (mode 0700) if needed, and recovers from a crash.
   *
   * Recovery removes leftover temporary files and partial files without a state file. It
   * drops index entries whose envelope is missing, adds envelopes that have a sidecar but
   * no index entry, and rebuilds a missing or damaged index. Partial uploads stay for
   * resume. Throws `IO_FAILED` when another live process has the store open for writing.
   */
  static async open(dir: string, options: StoreOptions = {}): Promise<Store> {
    validateOptions(options);
    const store = new Store(dir, options);

    if (store.options.readOnly) {
      await store.loadIndex();
      return store;
    }

    try {
      await fs.mkdir(store.dir, { recursive: true, mode: PRIVATE_DIRECTORY_MODE });
      await fs.mkdir(store.filesDir, { recursive: true, mode: PRIVATE_DIRECTORY_MODE });
      await fs.mkdir(store.partialDir, { recursive: true, mode: PRIVATE_DIRECTORY_MODE });
    } catch (error) {
      throw toStorageError(error, `create store folder ${store.dir}`);
    }

    await store.acquireLock();
    await store.removeTemporaryFiles();
    await store.removeOrphanPartials();
    await store.loadIndex();
    return store;
  }

  /** Lists the entries, oldest first. Partial uploads never appear. */
  list(): StoreEntry[] {
    return [...this.entries.values()].sort(compareEntries).map((entry) => ({ ...entry }));
  }

  /** Returns the entry with `id`; throws `STORE_ENTRY_NOT_FOUND`. */
  get(id: string): StoreEntry {
    const entry = typeof id === 'string' ? this.entries.get(id) : undefined;
    if (entry === undefined) {
      throw new SftError('STORE_ENTRY_NOT_FOUND', `No stored file with id "${escapeForLog(String(id), 80)}" in ${this.dir}. Run "sft list" to see the ids.`);
    }
    return { ...entry };
  }

  /** Returns a stream of the stored envelope of entry `id`; throws `STORE_ENTRY_NOT_FOUND`. */
  openEnvelope(id: string): Readable {
    const entry = this.get(id);
    return createReadStream(this.envelopePath(entry.id), { highWaterMark: ENVELOPE_READ_BYTES });
  }

  /** Removes entry `id`: its envelope, its sidecar and its index entry. */
  async remove(id: string): Promise<void> {
    this.requireWritable('remove a file');
    const entry = this.get(id);

    // Renaming the envelope away first means a crash leaves either the whole entry or an
    // orphan sidecar, which open() removes, never an entry that comes back.
    const doomed = temporaryPathFor(this.envelopePath(entry.id));
    try {
      await fs.rename(this.envelopePath(entry.id), doomed);
      await fs.rm(this.sidecarPath(entry.id), { force: true });
      await syncDirectory(this.filesDir);
    } catch (error) {
      throw toStorageError(error, `remove stored file ${entry.id}`);
    }

    this.deleteEntry(entry.id);
    await this.saveIndex();
    await fs.rm(doomed, { force: true });
    this.logger.info(`Removed stored file ${entry.id} (${escapeForLog(entry.displayName)}).`);
  }

  /**
   * Begins or resumes an upload. The raw names of the offer are made safe here.
   *
   * - A partial upload of the same (username, transferId) with the same sizes resumes from
   *   its committed offset. Its committed bytes are read once to restore the hash.
   * - If that transfer already finished, the returned upload is complete, so
   *   `committedOffset` is the envelope size and `finish` returns the stored entry.
   * - An upload of the same transfer that is still active here is closed first. This
   *   happens when a sender reconnects before its old connection timed out.
   *
   * Throws `NAME_INVALID`, `PROTOCOL_VIOLATION` (invalid transfer id or sizes),
   * `FILE_TOO_LARGE` and `DISK_FULL`.
   */
  async beginUpload(offer: UploadOffer): Promise<Upload> {
    this.requireWritable('receive a file');
    const state = this.stateForOffer(offer);
    const key = uploadKey(state.username, state.transferId);

    const previous = this.beginQueues.get(key) ?? Promise.resolve();
    const result = previous.catch(() => undefined).then(() => this.beginUploadNow(key, state));
    const settled = result.catch(() => undefined);
    this.beginQueues.set(key, settled);
    void settled.then(() => {
      if (this.beginQueues.get(key) === settled) {
        this.beginQueues.delete(key);
      }
    });
    return result;
  }

  /**
   * Checks that `bytes` more fit on the disk, beside the bytes reserved for uploads in
   * progress and the `minFreeBytes` margin. Throws `DISK_FULL` with the numbers.
   */
  async checkSpace(bytes: number): Promise<void> {
    await this.checkSpaceWith(bytes, this.reservedBytes());
  }

  /**
   * Removes partial uploads that were last written more than `maxAgeMs` ago, except the
   * ones in progress. Returns how many were removed.
   */
  async removeExpiredPartials(maxAgeMs: number): Promise<number> {
    this.requireWritable('remove partial uploads');
    const now = this.clock();
    let removed = 0;

    for (const name of await readFolder(this.partialDir)) {
      if (!name.endsWith(PARTIAL_STATE_SUFFIX)) {
        continue;
      }
      const key = name.slice(0, -PARTIAL_STATE_SUFFIX.length);
      if (this.activeUploads.has(key)) {
        continue;
      }

      const statePath = path.join(this.partialDir, name);
      const state = await readPartialState(statePath);
      const lastWrite = typeof state === 'object' ? Date.parse(state.updatedAt) : Number.NaN;
      const lastWriteMs = Number.isNaN(lastWrite) ? await modifiedTime(statePath) : lastWrite;
      if (now - lastWriteMs <= maxAgeMs) {
        continue;
      }

      await fs.rm(path.join(this.partialDir, key + PARTIAL_DATA_SUFFIX), { force: true });
      await fs.rm(statePath, { force: true });
      removed += 1;
      const transfer = typeof state === 'object' ? `transfer ${state.transferId} of ${escapeForLog(state.username)}` : key;
      this.logger.info(`Removed expired partial upload ${transfer}.`);
    }
    return removed;
  }

  /**
   * Rebuilds the index from the sidecars of the envelopes in `files/` and writes it.
   * Envelopes without a readable sidecar are logged and left in place, unlisted.
   */
  async rebuildIndex(): Promise<void> {
    const entries = await this.readSidecars();
    this.entries.clear();
    this.entryByTransfer.clear();
    for (const entry of entries) {
      this.addEntry(entry);
    }
    this.logger.info(`Rebuilt the index of ${this.dir}: ${entries.length} stored files.`);

    if (!this.options.readOnly) {
      await this.saveIndex();
    }
  }

  /** Closes the uploads in progress (keeping them for resume), waits for index writes and releases the lock. */
  async close(): Promise<void> {
    if (this.closed) {
      return;
    }
    this.closed = true;

    await Promise.all([...this.activeUploads.values()].map((upload) => upload.close()));
    if (this.indexSaveTimer !== undefined) {
      clearTimeout(this.indexSaveTimer);
      this.indexSaveTimer = undefined;
      await this.saveIndex();
    }
    await this.indexWriteChain;
    if (!this.options.readOnly) {
      await this.releaseLock();
    }
  }

  private async beginUploadNow(key: string, state: PartialState): Promise<Upload> {
    const paths = {
      dataPath: path.join(this.partialDir, key + PARTIAL_DATA_SUFFIX),
      statePath: path.join(this.partialDir, key + PARTIAL_STATE_SUFFIX),
    };
    const host = this.uploadHost();

    const active = this.activeUploads.get(key);
    if (active !== undefined) {
      this.logger.info(`Upload ${state.transferId} of ${escapeForLog(state.username)} began again; closing its previous connection's upload.`);
      await active.close();
      this.activeUploads.delete(key);
    }

    const finished = this.findFinished(state);
    if (finished !== undefined) {
      // Partial files under this key can only be leftovers of the finished transfer.
      await fs.rm(paths.dataPath, { force: true });
      await fs.rm(paths.statePath, { force: true });
      return Upload.completed(host, key, paths, state, finished);
    }

    // Reserve the whole envelope while the partial is opened; the reservation shrinks to
    // the bytes still to come once the upload is active.
    this.pendingReservations += state.envelopeSize;
    if (this.freeSpace !== undefined) {
      this.freeSpace.offeredSince += state.envelopeSize;
    }
    let opened: Awaited<ReturnType<typeof Upload.open>>;
    try {
      await this.checkSpaceWith(0, this.reservedBytes());
      opened = await Upload.open(host, key, paths, state);
      if (opened.discarded !== undefined) {
        this.logger.warn(`Partial upload ${state.transferId} of ${escapeForLog(state.username)} started over: ${opened.discarded}.`);
      } else if (opened.resumedFrom > 0) {
        this.logger.info(`Upload ${state.transferId} of ${escapeForLog(state.username)} resumed at byte ${opened.resumedFrom} of ${state.envelopeSize}.`);
      }
    } finally {
      this.pendingReservations -= state.envelopeSize;
    }

    this.activeUploads.set(key, opened.upload);
    return opened.upload;
  }

  private stateForOffer(offer: UploadOffer): PartialState {
    if (typeof offer.transferId !== 'string' || !TRANSFER_ID_PATTERN.test(offer.transferId)) {
      throw new SftError('PROTOCOL_VIOLATION', `Invalid transfer id "${escapeForLog(String(offer.transferId), 80)}": use 1 to 128 letters, digits or ._:+/=- characters.`);
    }
    if (!isSize(offer.envelopeSize) || !isSize(offer.plaintextSize)) {
      throw new SftError('PROTOCOL_VIOLATION', `Invalid sizes in the offer of transfer ${offer.transferId}: expected whole numbers of bytes.`);
    }
    validateUsername(offer.username);
    if (typeof offer.remoteAddress !== 'string' || offer.remoteAddress.length > MAX_REMOTE_ADDRESS_LENGTH) {
      throw new SftError('USAGE', `Invalid remote address for transfer ${offer.transferId}.`);
    }

    const maxFileSize = this.options.maxFileSize;
    if (maxFileSize !== undefined && offer.envelopeSize > maxFileSize) {
      throw new SftError(
        'FILE_TOO_LARGE',
        `File rejected: its envelope has ${offer.envelopeSize} bytes, more than this receiver's maximum file size of ${maxFileSize} bytes.`,
      );
    }

    const now = new Date(this.clock()).toISOString();
    return {
      version: 1,
      transferId: offer.transferId,
      username: offer.username,
      remoteAddress: offer.remoteAddress,
      displayName: displayName(offer.displayName),
      relativePath: safeRelativePath(offer.relativePath).join('/'),
      envelopeSize: offer.envelopeSize,
      plaintextSize: offer.plaintextSize,
      committedOffset: 0,
      createdAt: now,
      updatedAt: now,
    };
  }

  private findFinished(state: PartialState): StoreEntry | undefined {
    const id = this.entryByTransfer.get(transferKey(state.username, state.transferId));
    const entry = id === undefined ? undefined : this.entries.get(id);
    return entry !== undefined && entry.envelopeSize === state.envelopeSize ? entry : undefined;
  }

  private addEntry(entry: StoreEntry): void {
    this.entries.set(entry.id, entry);
    this.entryByTransfer.set(transferKey(entry.senderUsername, entry.transferId), entry.id);
  }

  private deleteEntry(id: string): void {
    const entry = this.entries.get(id);
    this.entries.delete(id);
    if (entry !== undefined) {
      const key = transferKey(entry.senderUsername, entry.transferId);
      if (this.entryByTransfer.get(key) === id) {
        this.entryByTransfer.delete(key);
      }
    }
  }

  private uploadHost(): UploadHost {
    return {
      checkpointIntervalBytes: this.options.checkpointIntervalBytes,
      now: () => this.clock(),
      commitUpload: (upload, sha256) => this.commitUpload(upload, sha256),
      releaseUpload: (upload) => {
        if (this.activeUploads.get(upload.key) === upload) {
          this.activeUploads.delete(upload.key);
        }
      },
    };
  }

  /** Moves a finished, flushed partial into `files/` under a new id and records its entry. */
  private async commitUpload(upload: Upload, sha256: string): Promise<StoreEntry> {
    const id = randomBytes(16).toString('hex');
    const state = upload.state;
    const entry: StoreEntry = {
      id,
      transferId: state.transferId,
      senderUsername: state.username,
      remoteAddress: state.remoteAddress,
      displayName: state.displayName,
      relativePath: state.relativePath,
      envelopeSize: state.envelopeSize,
      plaintextSize: state.plaintextSize,
      receivedAt: new Date(this.clock()).toISOString(),
      sha256,
    };

    // A sidecar counts only once its envelope is in files/, and the rename below comes after
    // its fsync, so it needs no rename of its own.
    await writeNewFileDurably(this.sidecarPath(id), formatSidecar(entry));
    try {
      await fs.rename(upload.dataPath, this.envelopePath(id));
    } catch (error) {
      await fs.rm(this.sidecarPath(id), { force: true });
      throw toStorageError(error, `move upload ${state.transferId} into ${this.filesDir}`);
    }

    // From here on the file is stored: open() finds it by its sidecar even if the steps
    // below fail, so their errors are logged rather than reported to the sender.
    this.addEntry(entry);
    try {
      await this.filesFlusher.flush();
      if (upload.hasStateFile) {
        await fs.rm(upload.statePath, { force: true });
      }
    } catch (error) {
      this.logger.error(`Stored file ${id}, but could not clean up its partial upload: ${toStorageError(error, 'clean up').message}`);
    }
    this.saveIndexSoon();

    return { ...entry };
  }

  /**
   * Writes index.json within INDEX_SAVE_DELAY_MS, so that many files stored in a row share
   * one write. The sidecars already hold each entry, and open() adds any the index lacks.
   */
  private saveIndexSoon(): void {
    if (this.options.readOnly || this.indexSaveTimer !== undefined) {
      return;
    }
    this.indexSaveTimer = setTimeout(() => {
      this.indexSaveTimer = undefined;
      void this.saveIndex();
    }, INDEX_SAVE_DELAY_MS);
  }

  /**
   * Writes index.json with the current entries. Writes run one at a time, and callers that
   * arrive while a write waits share it, since it will include their change.
   */
  private saveIndex(): Promise<void> {
    if (this.options.readOnly) {
      return Promise.resolve();
    }
    if (this.queuedIndexWrite !== undefined) {
      return this.queuedIndexWrite;
    }

    const write = this.indexWriteChain.then(async () => {
      this.queuedIndexWrite = undefined;
      try {
        await writeFileAtomic(this.indexPath, formatIndex(this.entries.values()));
      } catch (error) {
        // The sidecars still hold every entry, and open() repairs the index from them.
        this.logger.error(`Could not write ${this.indexPath}; it will be repaired on the next open: ${toStorageError(error, 'write the index').message}`);
      }
    });
    this.queuedIndexWrite = write;
    this.indexWriteChain = write;
    return write;
  }

  /** Reads index.json and makes it match `files/`, rebuilding it when missing or damaged. */
  private async loadIndex(): Promise<void> {
    let text: string | undefined;
    let problem: string | undefined;
    try {
      text = await readBoundedFile(this.indexPath, MAX_INDEX_FILE_BYTES);
    } catch (error) {
      problem = error instanceof Error ? error.message : String(error);
    }

    const parsed = text === undefined ? undefined : parseIndex(text);
    if (typeof parsed === 'string') {
      problem = parsed;
    }

    if (parsed === undefined || typeof parsed === 'string') {
      const reason = problem === undefined ? 'it is missing' : `it is damaged (${problem})`;
      const isNewStore = problem === undefined && (await readFolder(this.filesDir)).length === 0;
      if (isNewStore) {
        await this.saveIndex();
        return;
      }
      this.logger.warn(`Index ${this.indexPath} is rebuilt from the stored files because ${reason}.`);
      await this.rebuildIndex();
      return;
    }

    for (const entry of parsed) {
      this.addEntry(entry);
    }
    await this.reconcileIndex();
  }

  /** Drops entries whose envelope is missing and adds envelopes that have a sidecar but no entry. */
  private async reconcileIndex(): Promise<void> {
    const names = new Set(await readFolder(this.filesDir));
    let changed = false;

    for (const id of [...this.entries.keys()]) {
      if (!names.has(id + ENVELOPE_SUFFIX)) {
        this.deleteEntry(id);
        changed = true;
        this.logger.warn(`Dropped index entry ${id}: its envelope ${this.envelopePath(id)} is missing.`);
      }
    }

    for (const entry of await this.readSidecars(names)) {
      if (!this.entries.has(entry.id)) {
        this.addEntry(entry);
        changed = true;
        // A running receiver writes the index up to INDEX_SAVE_DELAY_MS after a file, so a
        // read-only open beside it finds such files normally.
        if (!this.options.readOnly) {
          this.logger.warn(`Added stored file ${entry.id} to the index from its sidecar.`);
        }
      }
    }

    if (changed) {
      await this.saveIndex();
    }
  }

  /**
   * Reads the sidecar of every envelope in `files/`. Removes sidecars without an envelope
   * (left by a crash during `remove` or `finish`) unless read-only.
   */
  private async readSidecars(names?: Set<string>): Promise<StoreEntry[]> {
    const present = names ?? new Set(await readFolder(this.filesDir));
    const entries: StoreEntry[] = [];

    for (const name of present) {
      if (name.endsWith(SIDECAR_SUFFIX)) {
        const id = name.slice(0, -SIDECAR_SUFFIX.length);
        if (ENTRY_ID_PATTERN.test(id) && !present.has(id + ENVELOPE_SUFFIX) && !this.options.readOnly) {
          await fs.rm(path.join(this.filesDir, name), { force: true });
          this.logger.warn(`Removed sidecar ${name}: its envelope is missing.`);
        }
        continue;
      }
      if (!name.endsWith(ENVELOPE_SUFFIX)) {
        continue;
      }

      const id = name.slice(0, -ENVELOPE_SUFFIX.length);
      if (!ENTRY_ID_PATTERN.test(id)) {
        this.logger.warn(`Ignored ${name} in ${this.filesDir}: not a name the store gives.`);
        continue;
      }

      const entry = await this.readSidecar(id);
      if (typeof entry === 'string') {
        this.logger.error(`Envelope ${name} is not listed because its sidecar ${id}${SIDECAR_SUFFIX} ${entry}. The file was left in place.`);
        continue;
      }
      entries.push(entry);
    }
    return entries;
  }

  private async readSidecar(id: string): Promise<StoreEntry | string> {
    let text: string | undefined;
    try {
      text = await readBoundedFile(this.sidecarPath(id), MAX_SIDECAR_BYTES);
    } catch (error) {
      return `could not be read (${error instanceof Error ? error.message : String(error)})`;
    }
    if (text === undefined) {
      return 'is missing';
    }

    const entry = parseSidecar(text);
    if (typeof entry === 'string') {
      return `is damaged (${entry})`;
    }
    if (entry.id !== id) {
      return `names another id (${entry.id})`;
    }
    return entry;
  }

  /** Removes temporary files that a crash left during an atomic write or a removal. */
  private async removeTemporaryFiles(): Promise<void> {
    const now = Date.now();
    for (const folder of [this.dir, this.filesDir, this.partialDir]) {
      for (const name of await readFolder(folder)) {
        if (!name.endsWith(TEMP_SUFFIX)) {
          continue;
        }

        // `sft account add` may be writing accounts.json from another process right now,
        // so its temporary file must be old enough to be a leftover.
        const file = path.join(folder, name);
        const isAccountsFile = folder === this.dir && name.startsWith(ACCOUNTS_FILE_NAME + '.');
        if (isAccountsFile && now - (await modifiedTime(file)) < ACCOUNTS_TEMP_FILE_MIN_AGE_MS) {
          continue;
        }

        await fs.rm(file, { force: true });
        this.logger.info(`Removed leftover temporary file ${file}.`);
      }
    }
  }

  /** Removes partial data files whose state file is missing: without it they cannot be resumed. */
  private async removeOrphanPartials(): Promise<void> {
    const names = new Set(await readFolder(this.partialDir));
    for (const name of names) {
      if (!name.endsWith(PARTIAL_DATA_SUFFIX)) {
        continue;
      }
      const key = name.slice(0, -PARTIAL_DATA_SUFFIX.length);
      if (!names.has(key + PARTIAL_STATE_SUFFIX)) {
        await fs.rm(path.join(this.partialDir, name), { force: true });
        this.logger.warn(`Removed partial file ${name}: its state file is missing.`);
      }
    }
  }

  private async checkSpaceWith(bytes: number, reserved: number): Promise<void> {
    const needed = bytes + reserved + this.options.minFreeBytes;
    // Many small files in a row reuse a recent reading, less every byte offered since it.
    const recent = this.freeSpace;
    if (recent !== undefined && Date.now() - recent.readAt < FREE_SPACE_READING_MS && recent.available - recent.offeredSince >= needed) {
      return;
    }

    let available: number;
    try {
      const stats = await fs.statfs(this.dir);
      available = Number(stats.bavail) * Number(stats.bsize);
    } catch (error) {
      throw toStorageError(error, `read the free space of ${this.dir}`);
    }
    this.freeSpace = { readAt: Date.now(), available, offeredSince: 0 };

    if (available < needed) {
      throw new SftError(
        'DISK_FULL',
        `Not enough free space in ${this.dir}: ${bytes + reserved} bytes needed (${reserved} of them for uploads in progress) ` +
          `plus ${this.options.minFreeBytes} bytes kept free, but only ${available} bytes are available. Free some space and send again.`,
      );
    }
  }

  private reservedBytes(): number {
    let reserved = this.pendingReservations;
    for (const upload of this.activeUploads.values()) {
      reserved += upload.remainingBytes;
    }
    return reserved;
  }

  private async acquireLock(): Promise<void> {
    const contents = `${process.pid}\n`;
    try {
      await fs.writeFile(this.lockPath, contents, { flag: 'wx', mode: 0o600 });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw toStorageError(error, `create ${this.lockPath}`);
      }
    }

    const holder = Number.parseInt((await readBoundedFile(this.lockPath, 64)) ?? '', 10);
    if (Number.isInteger(holder) && holder !== process.pid && isProcessAlive(holder)) {
      throw new SftError(
        'IO_FAILED',
        `Store ${this.dir} is in use by process ${holder}. Stop that receiver first. Listing and exporting (sft list, sft export) work while it runs.`,
      );
    }

    // The holder has ended (a crash) or is this process (a test that reopens a store).
    this.logger.info(`Took over ${this.lockPath} from process ${Number.isNaN(holder) ? 'unknown' : holder}, which has ended.`);
    await writeFileAtomic(this.lockPath, contents);
  }

  private async releaseLock(): Promise<void> {
    const holder = Number.parseInt((await readBoundedFile(this.lockPath, 64).catch(() => undefined)) ?? '', 10);
    if (holder === process.pid) {
      await fs.rm(this.lockPath, { force: true });
    }
  }

  private requireWritable(action: string): void {
    if (this.closed) {
      throw new SftError('USAGE', `Cannot ${action}: store ${this.dir} is closed.`);
    }
    if (this.options.readOnly) {
      throw new SftError('USAGE', `Cannot ${action}: store ${this.dir} was opened read-only.`);
    }
  }

  private envelopePath(id: string): string {
    return path.join(this.filesDir, id + ENVELOPE_SUFFIX);
  }

  private sidecarPath(id: string): string {
    return path.join(this.filesDir, id + SIDECAR_SUFFIX);
  }
}

/** Returns the name of the partial files of (username, transferId): hex, so no network text reaches a file name. */
export function uploadKey(username: string, transferId: string): string {
  return createHash('sha256').update(JSON.stringify([username, transferId])).digest('hex').slice(0, 32);
}

function transferKey(username: string, transferId: string): string {
  return JSON.stringify([username, transferId]);
}

/** Orders entries by time received, then by id. */
function compareEntries(a: StoreEntry, b: StoreEntry): number {
  if (a.receivedAt !== b.receivedAt) {
    return a.receivedAt < b.receivedAt ? -1 : 1;
  }
  if (a.id === b.id) {
    return 0;
  }
  return a.id < b.id ? -1 : 1;
}

function validateOptions(options: StoreOptions): void {
  if (options.maxFileSize !== undefined && !isSize(options.maxFileSize)) {
    throw new SftError('USAGE', `Invalid maximum file size ${options.maxFileSize}: expected a whole number of bytes.`);
  }
  if (options.minFreeBytes !== undefined && !isSize(options.minFreeBytes)) {
    throw new SftError('USAGE', `Invalid minimum free space ${options.minFreeBytes}: expected a whole number of bytes.`);
  }
  if (options.checkpointIntervalBytes !== undefined && (!isSize(options.checkpointIntervalBytes) || options.checkpointIntervalBytes === 0)) {
    throw new SftError('USAGE', `Invalid checkpoint interval ${options.checkpointIntervalBytes}: expected a positive number of bytes.`);
  }
}

async function readFolder(folder: string): Promise<string[]> {
  try {
    return await fs.readdir(folder);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return [];
    }
    throw toStorageError(error, `read folder ${folder}`);
  }
}

async function modifiedTime(file: string): Promise<number> {
  try {
    return (await fs.stat(file)).mtimeMs;
  } catch {
    return 0;
  }
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
