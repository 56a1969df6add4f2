/**
 * The Receivers tree: receivers this editor has sent to, and the drop target for files
 * dragged from the Explorer.
 */
import * as vscode from 'vscode';

/** A receiver saved after a successful login; nothing in it is secret. */
export interface SavedReceiver {
  /** `HOST:PORT`, IPv6 hosts in brackets. */
  address: string;
  fingerprint: string;
  username: string;
  /** ISO 8601 time of the last successful send. */
  lastUsedAt: string;
}

export interface SavedReceiversSource {
  readonly onDidChange: vscode.Event<void>;
  list(): SavedReceiver[];
}

/** Context value that the menus in package.json match. */
export const SAVED_RECEIVER_CONTEXT = 'savedReceiver';

/** Characters of the fingerprint shown in the list: `SHA256:` and 8 base64 characters. */
const FINGERPRINT_PREFIX_CHARS = 15;

/** MIME type of the Explorer's dragged files. */
const URI_LIST_MIME = 'text/uri-list';

export class ReceiversProvider implements vscode.TreeDataProvider<SavedReceiver>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<SavedReceiver | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [this.changed];

  constructor(private readonly source: SavedReceiversSource) {
    this.disposables.push(source.onDidChange(() => this.changed.fire(undefined)));
  }

  getChildren(node?: SavedReceiver): SavedReceiver[] {
    if (node) {
      return [];
    }
    return [...this.source.list()].sort((a, b) => a.address.localeCompare(b.address) || a.username.localeCompare(b.username));
  }

  getTreeItem(receiver: SavedReceiver): vscode.TreeItem {
    const item = new vscode.TreeItem(receiver.address, vscode.TreeItemCollapsibleState.None);
    item.id = `receiver:${receiver.address}:${receiver.username}`;
    item.iconPath = new vscode.ThemeIcon('remote');
    item.contextValue = SAVED_RECEIVER_CONTEXT;
    // The start of the fingerprint is enough to recognize a receiver; the tooltip shows all of it.
    item.description = `${receiver.username} · ${receiver.fingerprint.slice(0, FINGERPRINT_PREFIX_CHARS)}…`;

    const tooltip = new vscode.MarkdownString(undefined, false);
    tooltip.appendMarkdown(`**${receiver.address}**\n\n`);
    tooltip.appendMarkdown(`${vscode.l10n.t('Account')}: ${receiver.username}  \n`);
    tooltip.appendMarkdown(`${vscode.l10n.t('Fingerprint')}: \`${receiver.fingerprint}\`  \n\n`);
    tooltip.appendMarkdown(vscode.l10n.t('Drop files from the Explorer here to send them to this receiver.'));
    item.tooltip = tooltip;
    return item;
  }

  dispose(): void {
    vscode.Disposable.from(...this.disposables).dispose();
  }
}

/** Accepts files and folders dropped from the Explorer onto a saved receiver. */
export class ReceiversDropController implements vscode.TreeDragAndDropController<SavedReceiver> {
  readonly dropMimeTypes = [URI_LIST_MIME];
  readonly dragMimeTypes: string[] = [];

  constructor(private readonly onDrop: (receiver: SavedReceiver, uris: vscode.Uri[]) => void) {}

  async handleDrop(target: SavedReceiver | undefined, dataTransfer: vscode.DataTransfer): Promise<void> {
    if (!target) {
      void vscode.window.showInformationMessage(vscode.l10n.t('Drop the files on one of the receivers in the list.'));
      return;
    }
    const item = dataTransfer.get(URI_LIST_MIME);
    if (!item) {
      return;
    }
    const uris = parseUriList(await item.asString());
    if (uris.length > 0) {
      this.onDrop(target, uris);
    }
  }
}

/** Parses a `text/uri-list` payload (RFC 2483): one URI a line, `#` lines are comments. */
export function parseUriList(text: string): vscode.Uri[] {
  const uris: vscode.Uri[] = [];
  for (const line of text.split(/\r?\n/)) {
    const value = line.trim();
    if (value === '' || value.startsWith('#')) {
      continue;
    }
    try {
      uris.push(vscode.Uri.parse(value, true));
    } catch {
      // A line that is not a URI is skipped; the others are still sent.
    }
  }
  return uris;
}
