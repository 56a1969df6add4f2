/**
 * The download webview: the sender's passphrase for one received file and the password
 * of the ZIP to write.
 *
 * The panel only collects input and shows state; the download command checks the
 * passphrase, opens the save dialog and writes the ZIP (see src/commands/download.ts).
 */
import * as vscode from 'vscode';
import { DownloadField, DownloadHostMessage, DownloadViewMessage, parseDownloadViewMessage } from './messages';
import { escapeHtml, renderPage, webviewOptions } from './webviewHtml';

export const DOWNLOAD_VIEW_TYPE = 'secureFileTransfer.download';

export interface DownloadPanelInit {
  name: string;
  size: string;
  sender: string;
  receivedAt: string;
}

export type DownloadSubmission = Extract<DownloadViewMessage, { type: 'submit' }>;

export class DownloadPanel implements vscode.Disposable {
  private readonly panel: vscode.WebviewPanel;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly submitted = new vscode.EventEmitter<DownloadSubmission>();
  private readonly disposed = new vscode.EventEmitter<void>();
  private isDisposed = false;

  readonly onDidSubmit = this.submitted.event;
  readonly onDidDispose = this.disposed.event;

  constructor(extensionUri: vscode.Uri, private readonly init: DownloadPanelInit) {
    this.panel = vscode.window.createWebviewPanel(
      DOWNLOAD_VIEW_TYPE,
      vscode.l10n.t('Download {0}', init.name),
      vscode.ViewColumn.Active,
      webviewOptions(extensionUri),
    );
    this.panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'sft.svg');
    this.panel.webview.html = renderPage(this.panel.webview, extensionUri, {
      title: vscode.l10n.t('Download {0}', init.name),
      body: downloadBody(),
      script: 'download.js',
      strings: downloadStrings(),
    });

    this.disposables.push(
      this.submitted,
      this.disposed,
      this.panel.webview.onDidReceiveMessage((value: unknown) => this.receive(value)),
      this.panel.onDidDispose(() => this.onPanelClosed()),
    );
  }

  /** Shows an error under `field`, or above the buttons for `general`, with the attempts left if given. */
  showError(field: DownloadField | 'general', text: string, attemptsLeft?: number): void {
    this.post({ type: 'error', field, text, attemptsLeft });
  }

  showBusy(text: string): void {
    this.post({ type: 'busy', text });
  }

  /** Disables the form for good and shows why. */
  showLocked(text: string): void {
    this.post({ type: 'locked', text });
  }

  reveal(): void {
    this.panel.reveal();
  }

  private post(message: DownloadHostMessage): void {
    if (!this.isDisposed) {
      void this.panel.webview.postMessage(message);
    }
  }

  private receive(value: unknown): void {
    const message = parseDownloadViewMessage(value);
    if (!message) {
      return;
    }
    switch (message.type) {
      case 'ready':
        this.post({ type: 'init', ...this.init });
        return;
      case 'submit':
        this.submitted.fire(message);
        return;
      case 'cancel':
        this.dispose();
        return;
    }
  }

  private onPanelClosed(): void {
    this.isDisposed = true;
    this.disposed.fire();
    vscode.Disposable.from(...this.disposables).dispose();
  }

  dispose(): void {
    if (!this.isDisposed) {
      this.panel.dispose();
    }
  }
}

function downloadBody(): string {
  const e = escapeHtml;
  return `
<h1>${e(vscode.l10n.t('Download as a password-protected ZIP'))}</h1>
<dl class="facts">
  <dt>${e(vscode.l10n.t('File'))}</dt><dd id="entry-name" data-testid="entry-name"></dd>
  <dt>${e(vscode.l10n.t('Size'))}</dt><dd id="entry-size" data-testid="entry-size"></dd>
  <dt>${e(vscode.l10n.t('Sender'))}</dt><dd id="entry-sender" data-testid="entry-sender"></dd>
  <dt>${e(vscode.l10n.t('Received'))}</dt><dd id="entry-received" data-testid="entry-received"></dd>
</dl>

<vscode-form-group variant="vertical">
  <vscode-label for="passphrase">${e(vscode.l10n.t('Sender\'s passphrase'))}</vscode-label>
  <vscode-textfield id="passphrase" data-testid="passphrase" name="passphrase" type="password" autocomplete="off"></vscode-textfield>
  <vscode-form-helper>${e(vscode.l10n.t('The passphrase the sender chose when sending the file.'))}</vscode-form-helper>
  <div class="field-error" id="passphrase-error" data-testid="passphrase-error" role="alert"></div>
  <div class="field-error" id="attempts-left" data-testid="attempts-left" aria-live="polite"></div>
</vscode-form-group>

<vscode-checkbox id="use-passphrase" data-testid="use-passphrase">${e(vscode.l10n.t('Use the passphrase as the ZIP password'))}</vscode-checkbox>

<div id="zip-password-fields">
  <vscode-form-group variant="vertical">
    <vscode-label for="zip-password">${e(vscode.l10n.t('ZIP password'))}</vscode-label>
    <vscode-textfield id="zip-password" data-testid="zip-password" name="zip-password" type="password" autocomplete="off"></vscode-textfield>
    <vscode-form-helper>${e(vscode.l10n.t('The ZIP is encrypted with AES-256; 7-Zip and most archive tools open it with this password.'))}</vscode-form-helper>
    <div class="field-error" id="zip-password-error" data-testid="zip-password-error" role="alert"></div>
  </vscode-form-group>
  <vscode-form-group variant="vertical">
    <vscode-label for="zip-password-confirm">${e(vscode.l10n.t('ZIP password again'))}</vscode-label>
    <vscode-textfield id="zip-password-confirm" data-testid="zip-password-confirm" name="zip-password-confirm" type="password" autocomplete="off"></vscode-textfield>
    <div class="field-error" id="zip-password-confirm-error" data-testid="zip-password-confirm-error" role="alert"></div>
  </vscode-form-group>
</div>

<div class="alert" id="general-error" data-testid="general-error" role="alert"></div>

<div class="buttons">
  <vscode-button id="download-button" data-testid="download-button">${e(vscode.l10n.t('Choose Location and Download'))}</vscode-button>
  <vscode-button id="cancel-button" data-testid="cancel-button" secondary>${e(vscode.l10n.t('Cancel'))}</vscode-button>
</div>
<div class="status" id="status" data-testid="status" hidden>
  <vscode-progress-ring></vscode-progress-ring><span id="status-text" data-testid="status-text"></span>
</div>`;
}

function downloadStrings(): Record<string, string> {
  return {
    passphraseMissing: vscode.l10n.t('Enter the sender\'s passphrase.'),
    zipPasswordMissing: vscode.l10n.t('Enter a password for the ZIP, or use the passphrase.'),
    zipPasswordMismatch: vscode.l10n.t('The ZIP passwords do not match.'),
    attemptsLeft: vscode.l10n.t('Attempts left: {0}', '{0}'),
    checking: vscode.l10n.t('Checking the passphrase…'),
  };
}
