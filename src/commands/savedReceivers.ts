/**
 * Receivers this editor has sent to, for the Receivers view, and the known-receivers
 * file that pins their fingerprints.
 *
 * The list lives in globalState: addresses, fingerprints and usernames are not secret.
 * Fingerprints are pinned in a known-receivers file in the extension's global storage,
 * in the same format as the command line's file.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { KnownReceivers } from '../transfer/known-receivers';
import type { SavedReceiver, SavedReceiversSource } from '../views/receivers';
import { loadKnownReceivers } from './core';

const SAVED_RECEIVERS_KEY = 'secureFileTransfer.savedReceivers.v1';
/** Receivers kept in the list; the least recently used beyond this are dropped. */
export const MAX_SAVED_RECEIVERS = 50;

function isSavedReceiver(value: unknown): value is SavedReceiver {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const fields = value as Record<string, unknown>;
  return ['address', 'fingerprint', 'username', 'lastUsedAt'].every((name) => typeof fields[name] === 'string');
}

export class SavedReceivers implements SavedReceiversSource, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;

  constructor(
    private readonly state: vscode.Memento,
    private readonly globalStorage: vscode.Uri,
  ) {}

  /** Path of the known-receivers file used by sends from this editor. */
  get knownReceiversPath(): string {
    return path.join(this.globalStorage.fsPath, 'known_receivers');
  }

  /** Loads the known-receivers file. */
  async knownReceivers(): Promise<KnownReceivers> {
    const { KnownReceivers } = await loadKnownReceivers();
    return KnownReceivers.load(this.knownReceiversPath);
  }

  list(): SavedReceiver[] {
    const stored = this.state.get<unknown>(SAVED_RECEIVERS_KEY, []);
    return Array.isArray(stored) ? stored.filter(isSavedReceiver) : [];
  }

  /** Returns the most recently used receiver, to prefill the login form. */
  mostRecent(): SavedReceiver | undefined {
    return [...this.list()].sort((a, b) => (a.lastUsedAt < b.lastUsedAt ? 1 : -1))[0];
  }

  /** Adds or updates a receiver after a successful login. */
  async record(address: string, fingerprint: string, username: string): Promise<void> {
    const others = this.list().filter((item) => !(item.address === address && item.username === username));
    const updated = [{ address, fingerprint, username, lastUsedAt: new Date().toISOString() }, ...others]
      .sort((a, b) => (a.lastUsedAt < b.lastUsedAt ? 1 : -1))
      .slice(0, MAX_SAVED_RECEIVERS);
    await this.state.update(SAVED_RECEIVERS_KEY, updated);
    this.changed.fire();
  }

  /** Removes a receiver from the list, and its pinned fingerprint when no other account uses it. */
  async forget(receiver: SavedReceiver): Promise<void> {
    const remaining = this.list().filter((item) => !(item.address === receiver.address && item.username === receiver.username));
    await this.state.update(SAVED_RECEIVERS_KEY, remaining);
    if (!remaining.some((item) => item.address === receiver.address)) {
      await (await this.knownReceivers()).remove(receiver.address);
    }
    this.changed.fire();
  }

  /** Removes the pinned fingerprint of `address` and every saved receiver there; returns those receivers. */
  async forgetAddress(address: string): Promise<SavedReceiver[]> {
    const removed = this.list().filter((item) => item.address === address);
    await this.state.update(SAVED_RECEIVERS_KEY, this.list().filter((item) => item.address !== address));
    await (await this.knownReceivers()).remove(address);
    this.changed.fire();
    return removed;
  }

  dispose(): void {
    this.changed.dispose();
  }
}

/** Asks which pinned receiver to forget; returns its HOST:PORT, or undefined when cancelled or none is pinned. */
export async function pickPinnedReceiver(saved: SavedReceivers): Promise<string | undefined> {
  const pinned = (await saved.knownReceivers()).entries();
  if (pinned.length === 0) {
    void vscode.window.showInformationMessage(vscode.l10n.t('No receiver fingerprint is pinned yet.'));
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    pinned.map((entry) => ({ label: entry.hostPort, description: entry.fingerprint })),
    { placeHolder: vscode.l10n.t('Receiver whose pinned fingerprint to forget') },
  );
  return picked?.label;
}
