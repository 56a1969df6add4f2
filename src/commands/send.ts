/**
 * Send Securely…: the login webview, then the upload under a cancellable progress
 * notification, then a summary.
 *
 * Errors that happen before the receiver accepted the login (a bad address, an untrusted
 * or changed fingerprint, a wrong password) are shown inline in the login webview, which
 * stays open for a correction. Once logged in, the webview closes and the notification
 * takes over.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { SftError, isSftError } from '../errors';
import type { SendProgress } from '../transfer/sender';
import { formatBytes, formatDuration, formatSpeed } from '../views/format';
import { LoginPanel, LoginSubmission } from '../views/loginPanel';
import { MIN_PASSPHRASE_LENGTH } from '../views/messages';
import type { SavedReceiver } from '../views/receivers';
import { loadLink, loadSender } from './core';
import { errorText, logError } from './report';
import { SavedReceivers } from './savedReceivers';
import { Secrets } from './secrets';
import { Settings } from './settings';

/** Shortest time between two progress reports of a send, in milliseconds. */
const PROGRESS_REPORT_MS = 200;

/** One send: where, as whom, what. */
export interface SendRequest {
  /** Receiver link or `HOST:PORT`. */
  to: string;
  username: string;
  password: string;
  passphrase: string;
  /** Absolute paths of files and folders. */
  paths: string[];
}

/** Callbacks through which a running send reaches the user. */
export interface SendHooks {
  /** Asked about a receiver seen for the first time. */
  confirmFingerprint(receiver: { hostPort: string; fingerprint: string }): Promise<boolean>;
  /** Called once the receiver accepted the login. */
  onLoggedIn?(receiver: { hostPort: string; fingerprint: string }): void;
  /** Cancels the send like the notification's Cancel button. */
  signal?: AbortSignal;
}

/** The result of a send, which the summary notification reports. */
export interface SendSummary {
  hostPort: string;
  delivered: Array<{ relativePath: string; entryId: string; size: number }>;
  rejected: Array<{ relativePath: string; code: string; message: string }>;
  skipped: Array<{ path: string; reason: string }>;
  /** Plaintext bytes of the delivered files. */
  bytes: number;
  durationMs: number;
  /** Set when the send stopped before every file was handled. */
  error?: { code: string; message: string };
  /** True when the send stopped before the receiver accepted the login. */
  failedBeforeLogin: boolean;
  cancelled: boolean;
}

export class SendController {
  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly secrets: Secrets,
    private readonly savedReceivers: SavedReceivers,
    private readonly settings: () => Settings,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /** Send Securely… from the Explorer (one or several resources), the palette or a view title. */
  async sendCommand(uri?: unknown, uris?: unknown): Promise<void> {
    const paths = await this.pathsFrom(uri, uris);
    if (!paths) {
      return;
    }
    const recent = this.savedReceivers.mostRecent();
    await this.openLogin(paths, recent?.address ?? '', recent?.username ?? '', false);
  }

  /** Send to a saved receiver: from its context menu (files are picked) or a drop (files given). */
  async sendToReceiver(receiver: SavedReceiver | undefined, uris?: vscode.Uri[]): Promise<void> {
    if (!receiver) {
      return this.sendCommand();
    }
    const paths = await this.pathsFrom(undefined, uris);
    if (!paths) {
      return;
    }
    await this.openLogin(paths, receiver.address, receiver.username, true);
  }

  /** Returns local paths from the command arguments or a file dialog, or undefined when there are none. */
  private async pathsFrom(uri: unknown, uris: unknown): Promise<string[] | undefined> {
    let chosen: vscode.Uri[] = [];
    if (Array.isArray(uris) && uris.length > 0) {
      chosen = uris.filter((item): item is vscode.Uri => item instanceof vscode.Uri);
    } else if (uri instanceof vscode.Uri) {
      chosen = [uri];
    }

    if (chosen.length === 0) {
      const picked = await vscode.window.showOpenDialog({
        title: vscode.l10n.t('Files and folders to send'),
        openLabel: vscode.l10n.t('Send'),
        canSelectFiles: true,
        canSelectFolders: true,
        canSelectMany: true,
        defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
      });
      chosen = picked ?? [];
    }
    if (chosen.length === 0) {
      return undefined;
    }

    const remote = chosen.find((item) => item.scheme !== 'file');
    if (remote) {
      void vscode.window.showErrorMessage(
        vscode.l10n.t('{0} is not a file on disk. Secure File Transfer sends files from the machine where the extension runs.', remote.toString()),
      );
      return undefined;
    }
    return chosen.map((item) => item.fsPath);
  }

  private async openLogin(paths: string[], receiver: string, username: string, receiverLocked: boolean): Promise<void> {
    const remembered = receiver !== '' && username !== '' ? await this.secrets.password(receiver, username) : undefined;
    const panel = new LoginPanel(this.extensionUri, {
      receiver,
      username,
      files: paths.map((item) => path.basename(item)),
      passwordRemembered: remembered !== undefined,
      receiverLocked,
    });

    let busy = false;
    panel.onDidSubmit(async (submission) => {
      if (busy) {
        return;
      }
      busy = true;
      try {
        await this.submit(panel, paths, submission);
      } finally {
        busy = false;
      }
    });
  }

  /** Checks a submission of the login form and runs the requested send. */
  private async submit(panel: LoginPanel, paths: string[], submission: LoginSubmission): Promise<void> {
    const { parseReceiverAddress, formatHostPort } = await loadLink();

    let hostPort: string;
    let linkFingerprint: string | undefined;
    try {
      const address = parseReceiverAddress(submission.receiver, 'the receiver address');
      hostPort = formatHostPort(address.host, address.port);
      linkFingerprint = address.fingerprint;
    } catch (error) {
      panel.showError('receiver', errorText(error));
      return;
    }
    if (submission.username === '') {
      panel.showError('username', vscode.l10n.t('Enter your username on the receiver.'));
      return;
    }
    if (submission.passphrase.length < MIN_PASSPHRASE_LENGTH) {
      panel.showError('passphrase', vscode.l10n.t('Use at least {0} characters.', MIN_PASSPHRASE_LENGTH));
      return;
    }
    if (submission.passphrase !== submission.passphraseConfirm) {
      panel.showError('passphraseConfirm', vscode.l10n.t('The passphrases do not match.'));
      return;
    }

    let password = submission.password;
    if (password === '') {
      password = (await this.secrets.password(hostPort, submission.username)) ?? '';
      if (password === '') {
        panel.showError('password', vscode.l10n.t('Enter your password on the receiver.'));
        return;
      }
    }

    panel.showBusy(vscode.l10n.t('Connecting to {0}…', hostPort));
    const request: SendRequest = {
      to: submission.receiver,
      username: submission.username,
      password,
      passphrase: submission.passphrase,
      paths,
    };
    const summary = await this.run(request, {
      confirmFingerprint: (receiver) => panel.confirmFingerprint(receiver.hostPort, receiver.fingerprint),
      onLoggedIn: () => {
        if (submission.rememberPassword) {
          void this.secrets.rememberPassword(hostPort, submission.username, password);
        } else {
          void this.secrets.forgetPassword(hostPort, submission.username);
        }
        panel.dispose();
      },
    });

    if (summary.failedBeforeLogin && panel.visible) {
      await this.showLoginError(panel, summary, linkFingerprint);
      return;
    }
    this.showSummary(summary);
  }

  private async showLoginError(panel: LoginPanel, summary: SendSummary, linkFingerprint: string | undefined): Promise<void> {
    const error = summary.error;
    if (!error) {
      return;
    }
    switch (error.code) {
      case 'LOGIN_FAILED':
        // The core's message names command-line options, which do not exist here.
        panel.showError('password', vscode.l10n.t('Receiver {0} rejected the username or password.', summary.hostPort));
        return;
      case 'LOGIN_LOCKED':
        panel.showError('password', error.message);
        return;
      case 'FINGERPRINT_CHANGED': {
        const text = (await this.fingerprintChangedText(summary.hostPort, linkFingerprint)) ?? error.message;
        panel.showFingerprintChanged(summary.hostPort, text);
        void vscode.window.showWarningMessage(
          vscode.l10n.t('Receiver {0} presented a different certificate than before. Nothing was sent, and no password left this machine.', summary.hostPort),
        );
        return;
      }
      case 'USAGE':
      case 'CONNECTION_FAILED':
      case 'TIMEOUT':
        panel.showError('receiver', error.message);
        return;
      default:
        panel.showError('general', error.message);
        return;
    }
  }

  /**
   * Explains a changed fingerprint in the editor's terms. The core's message names the
   * command line's --trust option and known-receivers file, which do not exist here.
   * Returns undefined when the trusted fingerprint cannot be read.
   */
  private async fingerprintChangedText(hostPort: string, linkFingerprint: string | undefined): Promise<string | undefined> {
    if (linkFingerprint !== undefined) {
      return vscode.l10n.t(
        "Receiver {0} presented a certificate whose fingerprint is not {1}, the one in the link. Someone may be intercepting the connection, or the link is out of date. Check the link with the receiver's owner.",
        hostPort,
        linkFingerprint,
      );
    }
    const trusted = (await this.savedReceivers.knownReceivers().catch(() => undefined))?.get(hostPort);
    if (trusted === undefined) {
      return undefined;
    }
    return vscode.l10n.t(
      "Receiver {0} presented a certificate whose fingerprint is not {1}, the one you trusted before. Someone may be intercepting the connection, or the receiver got a new identity. If the receiver's owner confirms the change, choose Forget Receiver on {0} in the Receivers view, then send again.",
      hostPort,
      trusted,
    );
  }

  /**
   * Runs one send under a cancellable progress notification and returns its summary.
   * Never throws: failures are in `summary.error`, and are logged.
   */
  async run(request: SendRequest, hooks: SendHooks): Promise<SendSummary> {
    const started = Date.now();
    const summary: SendSummary = {
      hostPort: request.to,
      delivered: [],
      rejected: [],
      skipped: [],
      bytes: 0,
      durationMs: 0,
      failedBeforeLogin: true,
      cancelled: false,
    };

    try {
      const [{ sendFiles }, { parseReceiverAddress, formatHostPort }] = await Promise.all([loadSender(), loadLink()]);
      const address = parseReceiverAddress(request.to, 'the receiver address');
      summary.hostPort = formatHostPort(address.host, address.port);
      const knownReceivers = await this.savedReceivers.knownReceivers();
      this.log.info(`Sending ${request.paths.length} paths to ${summary.hostPort} as ${request.username}.`);

      await vscode.window.withProgress(
        {
          location: vscode.ProgressLocation.Notification,
          title: vscode.l10n.t('Sending to {0}', summary.hostPort),
          cancellable: true,
        },
        async (progress, token) => {
          const abort = new AbortController();
          token.onCancellationRequested(() => abort.abort());
          hooks.signal?.addEventListener('abort', () => abort.abort());
          const reporter = new SendProgressReporter(progress);
          // A receiver that cannot be reached on the first try is a typo more often than a
          // network blip, so that is reported at once instead of after every retry.
          let firstConnectionError: SftError | undefined;

          try {
            await sendFiles({
              to: request.to,
              username: request.username,
              password: request.password,
              passphrase: request.passphrase,
              paths: request.paths,
              knownReceivers,
              confirmFingerprint: hooks.confirmFingerprint,
              iterations: this.settings().pbkdf2Iterations,
              software: 'sft-vscode',
              signal: abort.signal,
              onProgress: (event) => {
                this.onProgress(event, summary, reporter);
                if (event.type === 'connected' && summary.failedBeforeLogin) {
                  summary.failedBeforeLogin = false;
                  void this.savedReceivers.record(event.hostPort, event.fingerprint, request.username);
                  hooks.onLoggedIn?.({ hostPort: event.hostPort, fingerprint: event.fingerprint });
                }
                if (event.type === 'retry' && summary.failedBeforeLogin) {
                  firstConnectionError = event.error;
                  abort.abort();
                }
              },
            });
          } catch (error) {
            if (firstConnectionError) {
              throw firstConnectionError;
            }
            throw error;
          }
        },
      );
    } catch (error) {
      summary.cancelled = isSftError(error, 'TRANSFER_CANCELLED');
      summary.error = { code: isSftError(error) ? error.code : 'UNEXPECTED', message: errorText(error) };
      logError(this.log, `Sending to ${summary.hostPort}`, error);
    }

    summary.durationMs = Date.now() - started;
    this.log.info(
      `Send to ${summary.hostPort} ended: ${summary.delivered.length} delivered, ${summary.rejected.length} rejected, ` +
        `${summary.skipped.length} skipped${summary.error ? `, stopped by ${summary.error.code}` : ''}.`,
    );
    return summary;
  }

  private onProgress(event: SendProgress, summary: SendSummary, reporter: SendProgressReporter): void {
    switch (event.type) {
      case 'connecting':
        reporter.message(vscode.l10n.t('Connecting to {0}…', event.hostPort));
        return;
      case 'file-start':
        reporter.fileStart(event.file.relativePath, event.index, event.count, event.offset, event.envelopeSize);
        if (event.offset > 0) {
          this.log.info(`Resuming ${event.file.relativePath} at byte ${event.offset} of ${event.envelopeSize}.`);
        }
        return;
      case 'file-progress':
        reporter.fileProgress(event.sent);
        return;
      case 'file-delivered':
        summary.delivered.push({ relativePath: event.file.relativePath, entryId: event.entryId, size: event.file.size });
        summary.bytes += event.file.size;
        this.log.info(`Delivered ${event.file.relativePath} as entry ${event.entryId} (transfer ${event.transferId}).`);
        return;
      case 'file-rejected':
        summary.rejected.push({ relativePath: event.file.relativePath, code: event.code, message: event.message });
        this.log.warn(`Receiver rejected ${event.file.relativePath}: ${event.code}: ${event.message}`);
        return;
      case 'skipped':
        summary.skipped.push({ path: event.path, reason: event.reason });
        this.log.warn(`Skipped ${event.path}: ${event.reason}`);
        return;
      case 'retry':
        reporter.message(vscode.l10n.t('Connection lost; retrying in {0}…', formatDuration(event.delayMs)));
        this.log.warn(`Send to ${summary.hostPort}: ${event.error.code}: ${event.error.message} Retry ${event.attempt} in ${event.delayMs} ms.`);
        return;
      case 'connected':
        return;
    }
  }

  /** Shows the end of a send as one notification. */
  showSummary(summary: SendSummary): void {
    const sent = summary.delivered.length;
    const files = sent === 1 ? vscode.l10n.t('1 file') : vscode.l10n.t('{0} files', sent);

    if (summary.cancelled) {
      void vscode.window.showInformationMessage(
        vscode.l10n.t(
          'Sending to {0} was cancelled after {1}. A file cut off midway stays incomplete on the receiver and is not listed there.',
          summary.hostPort,
          files,
        ),
      );
      return;
    }
    if (summary.error) {
      const showLog = vscode.l10n.t('Show Log');
      void vscode.window
        .showErrorMessage(vscode.l10n.t('Sending to {0} stopped after {1}: {2}', summary.hostPort, files, summary.error.message), showLog)
        .then((choice) => choice === showLog && this.log.show(true));
      return;
    }

    const text = vscode.l10n.t('Sent {0} ({1}) to {2} in {3}.', files, formatBytes(summary.bytes), summary.hostPort, formatDuration(summary.durationMs));
    const problems = [
      ...summary.rejected.map((item) => vscode.l10n.t('{0} was rejected: {1}', item.relativePath, item.message)),
      ...summary.skipped.map((item) => vscode.l10n.t('{0} was skipped: {1}', item.path, item.reason)),
    ];
    if (problems.length === 0) {
      void vscode.window.showInformationMessage(text);
    } else {
      void vscode.window.showWarningMessage(`${text} ${problems.join(' ')}`);
    }
  }
}

/** Turns send events into progress reports: file i of n, bytes and speed, with the bar across all files. */
class SendProgressReporter {
  private fileIndex = 0;
  private fileCount = 1;
  private fileName = '';
  private fileSize = 0;
  private fileStartedAt = 0;
  private fileStartOffset = 0;
  /** Percent of the whole send already reported to the bar. */
  private reported = 0;
  private lastReportAt = 0;

  constructor(private readonly progress: vscode.Progress<{ message?: string; increment?: number }>) {}

  message(text: string): void {
    this.progress.report({ message: text });
  }

  fileStart(name: string, index: number, count: number, offset: number, envelopeSize: number): void {
    this.fileIndex = index;
    this.fileCount = Math.max(1, count);
    this.fileName = name;
    this.fileSize = envelopeSize;
    this.fileStartedAt = Date.now();
    this.fileStartOffset = offset;
    this.lastReportAt = 0;
    this.fileProgress(offset);
  }

  fileProgress(sent: number): void {
    const now = Date.now();
    const done = sent >= this.fileSize;
    if (!done && now - this.lastReportAt < PROGRESS_REPORT_MS) {
      return;
    }
    this.lastReportAt = now;

    const fraction = this.fileSize > 0 ? Math.min(1, sent / this.fileSize) : 1;
    const overall = ((this.fileIndex + fraction) / this.fileCount) * 100;
    const increment = Math.max(0, overall - this.reported);
    this.reported += increment;

    const elapsedSeconds = (now - this.fileStartedAt) / 1000;
    const speed = elapsedSeconds > 0.2 ? formatSpeed((sent - this.fileStartOffset) / elapsedSeconds) : '';
    const message = vscode.l10n.t(
      'File {0} of {1}: {2}, {3} of {4}',
      this.fileIndex + 1,
      this.fileCount,
      this.fileName,
      formatBytes(sent),
      formatBytes(this.fileSize),
    );
    this.progress.report({ message: speed ? `${message}, ${speed}` : message, increment });
  }
}
