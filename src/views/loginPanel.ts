/**
 * The login webview of a send: receiver, account, passphrase, and the fingerprint
 * confirmation of a receiver seen for the first time.
 *
 * The panel only collects input and shows state; the send command decides what to do
 * with a submission (see src/commands/send.ts).
 */
import * as vscode from 'vscode';
import { LoginField, LoginHostMessage, LoginViewMessage, parseLoginViewMessage } from './messages';
import { escapeHtml, renderPage, webviewOptions } from './webviewHtml';

export const LOGIN_VIEW_TYPE = 'secureFileTransfer.login';

/** Initial values of the form and the names of the items to send. */
export interface LoginPanelInit {
  receiver: string;
  username: string;
  /** Names of the files and folders to send, for the list at the top. */
  files: string[];
  passwordRemembered: boolean;
  /** True when sending to a saved receiver: its address cannot be edited. */
  receiverLocked: boolean;
}

export type LoginSubmission = Extract<LoginViewMessage, { type: 'submit' }>;

export class LoginPanel implements vscode.Disposable {
  private readonly panel: vscode.WebviewPanel;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly submitted = new vscode.EventEmitter<LoginSubmission>();
  private readonly disposed = new vscode.EventEmitter<void>();
  private pendingFingerprint: ((accepted: boolean) => void) | undefined;
  private isDisposed = false;

  /** Fires with each valid submission of the form. */
  readonly onDidSubmit = this.submitted.event;
  /** Fires once when the panel closes, by the user or by `dispose`. */
  readonly onDidDispose = this.disposed.event;

  constructor(extensionUri: vscode.Uri, private readonly init: LoginPanelInit) {
    this.panel = vscode.window.createWebviewPanel(
      LOGIN_VIEW_TYPE,
      vscode.l10n.t('Send Securely'),
      vscode.ViewColumn.Active,
      webviewOptions(extensionUri),
    );
    this.panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'sft.svg');
    this.panel.webview.html = renderPage(this.panel.webview, extensionUri, {
      title: vscode.l10n.t('Send Securely'),
      body: loginBody(init.files.length),
      script: 'login.js',
      strings: loginStrings(),
    });

    this.disposables.push(
      this.submitted,
      this.disposed,
      this.panel.webview.onDidReceiveMessage((value: unknown) => this.receive(value)),
      this.panel.onDidDispose(() => this.onPanelClosed()),
    );
  }

  /** Shows an error under `field`, or above the buttons for `general`, and enables the form again. */
  showError(field: LoginField | 'general', text: string): void {
    this.post({ type: 'error', field, text });
  }

  /** Disables the form and shows `text` with a progress ring. */
  showBusy(text: string): void {
    this.post({ type: 'busy', text });
  }

  /** Shows the refusal of a receiver whose fingerprint changed. */
  showFingerprintChanged(address: string, text: string): void {
    this.post({ type: 'fingerprintChanged', address, text });
  }

  /** Shows the fingerprint of an unknown receiver and resolves with the user's choice, or false when the panel closes. */
  confirmFingerprint(address: string, fingerprint: string): Promise<boolean> {
    this.pendingFingerprint?.(false);
    if (this.isDisposed) {
      return Promise.resolve(false);
    }
    this.panel.reveal(undefined, false);
    return new Promise<boolean>((resolve) => {
      this.pendingFingerprint = resolve;
      this.post({ type: 'confirmFingerprint', address, fingerprint });
    });
  }

  get visible(): boolean {
    return !this.isDisposed;
  }

  reveal(): void {
    this.panel.reveal();
  }

  private post(message: LoginHostMessage): void {
    if (!this.isDisposed) {
      void this.panel.webview.postMessage(message);
    }
  }

  private receive(value: unknown): void {
    const message = parseLoginViewMessage(value);
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
      case 'fingerprintAnswer': {
        const resolve = this.pendingFingerprint;
        this.pendingFingerprint = undefined;
        resolve?.(message.accepted);
        return;
      }
      case 'cancel':
        this.dispose();
        return;
    }
  }

  private onPanelClosed(): void {
    this.isDisposed = true;
    this.pendingFingerprint?.(false);
    this.pendingFingerprint = undefined;
    this.disposed.fire();
    vscode.Disposable.from(...this.disposables).dispose();
  }

  dispose(): void {
    if (!this.isDisposed) {
      this.panel.dispose();
    }
  }
}

function loginBody(fileCount: number): string {
  const e = escapeHtml;
  const heading = fileCount === 1 ? e(vscode.l10n.t('Send 1 item securely')) : e(vscode.l10n.t('Send {0} items securely', fileCount));
  return `
<h1 id="heading">${heading}</h1>
<p class="lead">${e(vscode.l10n.t('Files are encrypted on this machine with your passphrase and the receiver\'s public key. The receiver stores them encrypted; downloading needs the passphrase.'))}</p>
<ul class="files" id="file-list" data-testid="file-list"></ul>

<vscode-form-group variant="vertical">
  <vscode-label for="receiver">${e(vscode.l10n.t('Receiver'))}</vscode-label>
  <vscode-textfield id="receiver" data-testid="receiver" name="receiver" placeholder="sft://127.0.0.1:7443#SHA256:…" autocomplete="off"></vscode-textfield>
  <vscode-form-helper>${e(vscode.l10n.t('A receiver link, or HOST:PORT.'))}</vscode-form-helper>
  <div class="field-error" id="receiver-error" data-testid="receiver-error" role="alert"></div>
</vscode-form-group>

<vscode-form-group variant="vertical">
  <vscode-label for="username">${e(vscode.l10n.t('Username'))}</vscode-label>
  <vscode-textfield id="username" data-testid="username" name="username" autocomplete="off"></vscode-textfield>
  <div class="field-error" id="username-error" data-testid="username-error" role="alert"></div>
</vscode-form-group>

<vscode-form-group variant="vertical">
  <vscode-label for="password">${e(vscode.l10n.t('Password'))}</vscode-label>
  <vscode-textfield id="password" data-testid="password" name="password" type="password" autocomplete="off"></vscode-textfield>
  <vscode-checkbox id="remember-password" data-testid="remember-password">${e(vscode.l10n.t('Remember the password in the editor\'s secret storage'))}</vscode-checkbox>
  <div class="field-error" id="password-error" data-testid="password-error" role="alert"></div>
</vscode-form-group>

<vscode-form-group variant="vertical">
  <vscode-label for="passphrase">${e(vscode.l10n.t('Decryption passphrase'))}</vscode-label>
  <vscode-textfield id="passphrase" data-testid="passphrase" name="passphrase" type="password" autocomplete="off"></vscode-textfield>
  <vscode-form-helper><span id="passphrase-strength" data-testid="passphrase-strength" aria-live="polite"></span></vscode-form-helper>
  <div class="field-error" id="passphrase-error" data-testid="passphrase-error" role="alert"></div>
</vscode-form-group>

<vscode-form-group variant="vertical">
  <vscode-label for="passphrase-confirm">${e(vscode.l10n.t('Passphrase again'))}</vscode-label>
  <vscode-textfield id="passphrase-confirm" data-testid="passphrase-confirm" name="passphrase-confirm" type="password" autocomplete="off"></vscode-textfield>
  <vscode-form-helper>${e(vscode.l10n.t('Give the passphrase to the receiver\'s owner by another channel. Without it the files cannot be decrypted, by anyone.'))}</vscode-form-helper>
  <div class="field-error" id="passphrase-confirm-error" data-testid="passphrase-confirm-error" role="alert"></div>
</vscode-form-group>

<div class="notice" id="fingerprint-area" data-testid="fingerprint-area" hidden>
  <p>${e(vscode.l10n.t('This is the first connection to {0}. Check that the receiver shows the same fingerprint before you trust it:', '\u0000'))
    .replace('\u0000', '<strong id="fingerprint-address" data-testid="fingerprint-address"></strong>')}</p>
  <p class="fingerprint" id="fingerprint-value" data-testid="fingerprint-value"></p>
  <div class="buttons">
    <vscode-button id="fingerprint-accept" data-testid="fingerprint-accept">${e(vscode.l10n.t('Trust and Send'))}</vscode-button>
    <vscode-button id="fingerprint-reject" data-testid="fingerprint-reject" secondary>${e(vscode.l10n.t('Do Not Trust'))}</vscode-button>
  </div>
</div>

<div class="alert" id="fingerprint-changed" data-testid="fingerprint-changed" role="alert" hidden>
  <strong>${e(vscode.l10n.t('Warning: the receiver\'s identity has changed.'))}</strong>
  <p id="fingerprint-changed-text" data-testid="fingerprint-changed-text"></p>
</div>

<div class="alert" id="general-error" data-testid="general-error" role="alert"></div>

<div class="buttons">
  <vscode-button id="send-button" data-testid="send-button">${e(vscode.l10n.t('Send'))}</vscode-button>
  <vscode-button id="cancel-button" data-testid="cancel-button" secondary>${e(vscode.l10n.t('Cancel'))}</vscode-button>
</div>
<div class="status" id="status" data-testid="status" hidden>
  <vscode-progress-ring></vscode-progress-ring><span id="status-text" data-testid="status-text"></span>
</div>`;
}

function loginStrings(): Record<string, string> {
  return {
    strengthHint: vscode.l10n.t('At least {0} characters. A few unrelated words make a strong passphrase.', '{0}'),
    'strength.weak': vscode.l10n.t('Strength: weak'),
    'strength.fair': vscode.l10n.t('Strength: fair'),
    'strength.strong': vscode.l10n.t('Strength: strong'),
    receiverMissing: vscode.l10n.t('Enter the receiver link or HOST:PORT.'),
    usernameMissing: vscode.l10n.t('Enter your username on the receiver.'),
    passwordMissing: vscode.l10n.t('Enter your password on the receiver.'),
    passphraseTooShort: vscode.l10n.t('Use at least {0} characters.', '{0}'),
    passphraseMismatch: vscode.l10n.t('The passphrases do not match.'),
    passwordRememberedPlaceholder: vscode.l10n.t('Remembered; leave empty to use it'),
    connecting: vscode.l10n.t('Connecting…'),
  };
}
