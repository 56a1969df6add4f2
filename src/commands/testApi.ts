/**
 * The object that `activate()` returns. It exists for the extension-host tests only: it
 * drives the same code paths as the commands without webviews and dialogs. It is not a
 * public API for other extensions and may change at any time.
 */
import type { Memento, Uri } from 'vscode';
import type { StoreEntry } from '../storage/store';
import type { InFlightUpload, ReceivedFilesNode, ReceivedFilesProvider } from '../views/receivedFiles';
import type { SavedReceiver } from '../views/receivers';
import type { AccountsService } from './accounts';
import type { DownloadForm, DownloadOutcome, Downloader } from './download';
import type { ReceiverController, ReceiverInfo } from './receiverController';
import type { SavedReceivers } from './savedReceivers';
import type { SendController, SendRequest, SendSummary } from './send';
import type { StoreService } from './storeService';

/** One row of the Received Files tree as the view shows it. */
export interface TreeRow {
  kind: 'sender' | 'entry' | 'upload';
  label: string;
  description: string;
  /** Tooltip as plain text or Markdown source. */
  tooltip: string;
  /** Set for `entry` rows. */
  entry?: StoreEntry;
  /** Set for `upload` rows. */
  upload?: InFlightUpload;
  children: TreeRow[];
}

export interface SecureFileTransferTestApi {
  /** Store folder from the current settings. */
  storeDirectory(): string;
  startReceiver(): Promise<ReceiverInfo>;
  /** Stops the receiver; `graceful` lets uploads in flight finish first. */
  stopReceiver(graceful?: boolean): Promise<void>;
  receiverInfo(): ReceiverInfo | undefined;
  addAccount(username: string, password: string): Promise<void>;
  removeAccount(username: string): Promise<void>;
  /**
   * Sends as the login webview does. `acceptFingerprint` is the user's choice for a receiver
   * seen for the first time; `signal` cancels like the notification's Cancel button.
   */
  send(request: SendRequest, options?: { acceptFingerprint?: boolean; signal?: AbortSignal }): Promise<SendSummary>;
  /** The Received Files tree: what getChildren and getTreeItem return. */
  receivedFilesTree(): Promise<TreeRow[]>;
  /** Downloads as the download webview does, with `target` instead of the save dialog. */
  download(entryId: string, form: DownloadForm, target: string): Promise<DownloadOutcome>;
  deleteEntry(entryId: string): Promise<void>;
  savedReceivers(): SavedReceiver[];
  /** Every key and value in the extension's globalState. */
  globalStateSnapshot(): Record<string, unknown>;
  /** Folder of the extension's log files (the LogOutputChannel writes there). */
  logDirectory(): string;
}

export interface TestApiParts {
  storeService: StoreService;
  receiver: ReceiverController;
  accounts: AccountsService;
  sender: SendController;
  downloader: Downloader;
  savedReceivers: SavedReceivers;
  receivedFiles: ReceivedFilesProvider;
  globalState: Memento;
  logUri: Uri;
}

export function createTestApi(parts: TestApiParts): SecureFileTransferTestApi {
  const rows = async (node?: ReceivedFilesNode): Promise<TreeRow[]> => {
    const children = await parts.receivedFiles.getChildren(node);
    return Promise.all(
      children.map(async (child) => {
        const item = parts.receivedFiles.getTreeItem(child);
        const tooltip = item.tooltip;
        return {
          kind: child.kind,
          label: typeof item.label === 'string' ? item.label : (item.label?.label ?? ''),
          description: typeof item.description === 'string' ? item.description : '',
          tooltip: typeof tooltip === 'string' ? tooltip : (tooltip?.value ?? ''),
          entry: child.kind === 'entry' ? child.entry : undefined,
          upload: child.kind === 'upload' ? child.upload : undefined,
          children: await rows(child),
        };
      }),
    );
  };

  return {
    storeDirectory: () => parts.storeService.dir,
    startReceiver: () => parts.receiver.start(),
    stopReceiver: (graceful = true) => parts.receiver.stop(graceful),
    receiverInfo: () => parts.receiver.info,
    addAccount: (username, password) => parts.accounts.add(username, password),
    removeAccount: (username) => parts.accounts.remove(username),
    send: (request, options = {}) =>
      parts.sender.run(request, { confirmFingerprint: async () => options.acceptFingerprint === true, signal: options.signal }),
    receivedFilesTree: () => rows(),
    download: (entryId, form, target) => parts.downloader.download(entryId, form, async () => target),
    deleteEntry: (entryId) => parts.storeService.remove(entryId),
    savedReceivers: () => parts.savedReceivers.list(),
    globalStateSnapshot: () => Object.fromEntries(parts.globalState.keys().map((key) => [key, parts.globalState.get(key)])),
    logDirectory: () => parts.logUri.fsPath,
  };
}
