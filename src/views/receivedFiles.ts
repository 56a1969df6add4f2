/**
 * The Received Files tree: stored files grouped by sender, and uploads still in flight.
 */
import * as vscode from 'vscode';
import type { StoreEntry } from '../storage/store';
import { formatBytes, formatTime, percent } from './format';

/** An upload that a sender is sending now; it is not a received file until it is confirmed. */
export interface InFlightUpload {
  transferId: string;
  senderUsername: string;
  remoteAddress: string;
  displayName: string;
  relativePath: string;
  receivedBytes: number;
  /** Envelope size in bytes. */
  totalBytes: number;
}

/** Data source of the tree. */
export interface ReceivedFilesSource {
  readonly onDidChange: vscode.Event<void>;
  /** Stored entries, read from the store's index on disk. */
  entries(): Promise<StoreEntry[]>;
  uploads(): InFlightUpload[];
}

export type ReceivedFilesNode =
  | { kind: 'sender'; username: string; entries: StoreEntry[]; uploads: InFlightUpload[] }
  | { kind: 'entry'; entry: StoreEntry }
  | { kind: 'upload'; upload: InFlightUpload };

/** Context values that the menus in package.json match. */
export const RECEIVED_FILE_CONTEXT = 'receivedFile';
export const UPLOAD_CONTEXT = 'upload';
export const SENDER_CONTEXT = 'sender';

/** Returns the name shown for an entry: its path inside the sent folder, else its name. */
export function entryLabel(entry: { displayName: string; relativePath: string }): string {
  return entry.relativePath !== '' ? entry.relativePath : entry.displayName;
}

export class ReceivedFilesProvider implements vscode.TreeDataProvider<ReceivedFilesNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<ReceivedFilesNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [this.changed];

  constructor(private readonly source: ReceivedFilesSource) {
    this.disposables.push(source.onDidChange(() => this.refresh()));
  }

  refresh(): void {
    this.changed.fire(undefined);
  }

  /** Returns the sender groups with their entries and uploads; what the tree shows at its root. */
  async groups(): Promise<Array<Extract<ReceivedFilesNode, { kind: 'sender' }>>> {
    const bySender = new Map<string, { entries: StoreEntry[]; uploads: InFlightUpload[] }>();
    const groupFor = (username: string) => {
      let group = bySender.get(username);
      if (!group) {
        group = { entries: [], uploads: [] };
        bySender.set(username, group);
      }
      return group;
    };

    for (const entry of await this.source.entries()) {
      groupFor(entry.senderUsername).entries.push(entry);
    }
    for (const upload of this.source.uploads()) {
      groupFor(upload.senderUsername).uploads.push(upload);
    }

    return [...bySender.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([username, group]) => ({
        kind: 'sender' as const,
        username,
        entries: group.entries.sort(newestFirst),
        uploads: group.uploads,
      }));
  }

  async getChildren(node?: ReceivedFilesNode): Promise<ReceivedFilesNode[]> {
    if (!node) {
      return this.groups();
    }
    if (node.kind !== 'sender') {
      return [];
    }
    return [
      ...node.uploads.map((upload) => ({ kind: 'upload' as const, upload })),
      ...node.entries.map((entry) => ({ kind: 'entry' as const, entry })),
    ];
  }

  getTreeItem(node: ReceivedFilesNode): vscode.TreeItem {
    switch (node.kind) {
      case 'sender':
        return this.senderItem(node.username, node.entries.length, node.uploads.length);
      case 'entry':
        return this.entryItem(node.entry);
      case 'upload':
        return this.uploadItem(node.upload);
    }
  }

  private senderItem(username: string, fileCount: number, uploadCount: number): vscode.TreeItem {
    const item = new vscode.TreeItem(username, vscode.TreeItemCollapsibleState.Expanded);
    item.id = `sender:${username}`;
    item.iconPath = new vscode.ThemeIcon('account');
    item.contextValue = SENDER_CONTEXT;
    item.description =
      uploadCount > 0
        ? vscode.l10n.t('{0} files, {1} arriving', fileCount, uploadCount)
        : fileCount === 1
          ? vscode.l10n.t('1 file')
          : vscode.l10n.t('{0} files', fileCount);
    item.tooltip = vscode.l10n.t('Files sent by the account {0}', username);
    return item;
  }

  private entryItem(entry: StoreEntry): vscode.TreeItem {
    const item = new vscode.TreeItem(entryLabel(entry), vscode.TreeItemCollapsibleState.None);
    item.id = `entry:${entry.id}`;
    item.iconPath = new vscode.ThemeIcon('file-binary');
    item.contextValue = RECEIVED_FILE_CONTEXT;
    item.description = `${formatBytes(entry.plaintextSize)} · ${formatTime(entry.receivedAt)}`;
    item.accessibilityInformation = {
      label: vscode.l10n.t('{0}, {1}, received {2}', entryLabel(entry), formatBytes(entry.plaintextSize), formatTime(entry.receivedAt)),
    };

    const tooltip = new vscode.MarkdownString(undefined, false);
    tooltip.appendMarkdown(`**${escapeMarkdown(entryLabel(entry))}**\n\n`);
    tooltip.appendMarkdown(`${vscode.l10n.t('Size')}: ${formatBytes(entry.plaintextSize)} (${entry.plaintextSize.toLocaleString()} B)  \n`);
    tooltip.appendMarkdown(`${vscode.l10n.t('Received')}: ${escapeMarkdown(formatTime(entry.receivedAt))}  \n`);
    tooltip.appendMarkdown(`${vscode.l10n.t('Sender')}: ${escapeMarkdown(entry.senderUsername)} ${codeSpan(entry.remoteAddress)}  \n`);
    tooltip.appendMarkdown(`${vscode.l10n.t('SHA-256 of the envelope')}: \`${entry.sha256}\``);
    item.tooltip = tooltip;
    return item;
  }

  private uploadItem(upload: InFlightUpload): vscode.TreeItem {
    const item = new vscode.TreeItem(entryLabel(upload), vscode.TreeItemCollapsibleState.None);
    item.id = `upload:${upload.senderUsername}:${upload.transferId}`;
    item.iconPath = new vscode.ThemeIcon('loading~spin');
    item.contextValue = UPLOAD_CONTEXT;
    item.description = vscode.l10n.t(
      'receiving {0}% ({1} of {2})',
      percent(upload.receivedBytes, upload.totalBytes),
      formatBytes(upload.receivedBytes),
      formatBytes(upload.totalBytes),
    );
    item.tooltip = vscode.l10n.t('Upload in progress from {0} ({1}). It appears as a received file once it is complete.', upload.senderUsername, upload.remoteAddress);
    return item;
  }

  dispose(): void {
    vscode.Disposable.from(...this.disposables).dispose();
  }
}

/** Orders entries newest first, so a file that just arrived is at the top of its group. */
function newestFirst(a: StoreEntry, b: StoreEntry): number {
  return b.receivedAt.localeCompare(a.receivedAt);
}

/** Shows text verbatim in a Markdown code span; backticks cannot occur in addresses, and are dropped if they do. */
function codeSpan(text: string): string {
  return `\`${text.replace(/`/g, '')}\``;
}

/** Escapes characters that Markdown would interpret in untrusted names. */
function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
}
