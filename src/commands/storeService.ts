/**
 * Access to the receiver's store from the extension: listing, reading, removing.
 *
 * While the receiver runs, its writable Store is used. Otherwise the store is opened
 * read-only for each listing, so an idle window never holds the store's lock and another
 * window can still start a receiver on it.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import * as vscode from 'vscode';
import type { Store, StoreEntry } from '../storage/store';
import { loadStorage } from './core';

export class StoreService implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires when entries may have changed: a file arrived, was removed, or the store moved. */
  readonly onDidChange = this.changed.event;

  /** The receiver's writable store while it runs. */
  private writable: Store | undefined;

  constructor(
    private readonly directory: () => string,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /** Absolute path of the store folder from the current settings. */
  get dir(): string {
    return this.writable?.dir ?? this.directory();
  }

  /** Tells listeners to read the entries again. */
  refresh(): void {
    this.changed.fire();
  }

  /** Uses `store` (the running receiver's) for every access until `detach` is called. */
  attach(store: Store): void {
    this.writable = store;
    this.changed.fire();
  }

  detach(): void {
    this.writable = undefined;
    this.changed.fire();
  }

  /** Lists the stored entries; an empty list when the store folder does not exist yet. */
  async entries(): Promise<StoreEntry[]> {
    if (this.writable) {
      return this.writable.list();
    }
    const store = await this.openReadOnly();
    if (!store) {
      return [];
    }
    try {
      return store.list();
    } finally {
      await store.close();
    }
  }

  /** Returns the entry `id`; throws STORE_ENTRY_NOT_FOUND. */
  async get(id: string): Promise<StoreEntry> {
    return this.withStore(async (store) => store.get(id), false);
  }

  /** Returns the envelope of entry `id` as a stream. */
  async openEnvelope(id: string): Promise<Readable> {
    return this.withStore(async (store) => store.openEnvelope(id), false);
  }

  /** Removes entry `id`, opening the store for writing if the receiver is not running. */
  async remove(id: string): Promise<void> {
    await this.withStore((store) => store.remove(id), true);
    this.changed.fire();
  }

  private async withStore<T>(action: (store: Store) => Promise<T>, write: boolean): Promise<T> {
    if (this.writable) {
      return action(this.writable);
    }
    const { Store } = await loadStorage();
    const store = await Store.open(this.directory(), { readOnly: !write, logger: this.log });
    try {
      return await action(store);
    } finally {
      await store.close();
    }
  }

  private async openReadOnly(): Promise<Store | undefined> {
    const dir = this.directory();
    const { Store, INDEX_FILE_NAME, FILES_FOLDER_NAME } = await loadStorage();
    const exists = async (name: string) => fs.stat(path.join(dir, name)).then(() => true, () => false);
    if (!(await exists(INDEX_FILE_NAME)) && !(await exists(FILES_FOLDER_NAME))) {
      return undefined;
    }
    return Store.open(dir, { readOnly: true, logger: this.log });
  }

  dispose(): void {
    this.changed.dispose();
  }
}
