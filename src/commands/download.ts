/**
 * Download… and Delete on received files.
 *
 * A download opens the stored envelope with the receiver's private key and the sender's
 * passphrase, then streams the plaintext into an AES-256 ZIP. A wrong passphrase is found
 * while the header is read, before the save dialog opens, so nothing is written.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { isSftError } from '../errors';
import type { StoreEntry } from '../storage/store';
import { DownloadPanel } from '../views/downloadPanel';
import { formatBytes, formatTime } from '../views/format';
import type { DownloadField } from '../views/messages';
import { entryLabel, ReceivedFilesNode } from '../views/receivedFiles';
import { loadCrypto, loadZip } from './core';
import { errorText, logError, reportError } from './report';
import { Secrets } from './secrets';
import { StoreService } from './storeService';
import { createChosenFolder } from './tools';

/** Wrong passphrases allowed per file within DOWNLOAD_ATTEMPT_WINDOW_MS before downloads of it are locked. */
export const MAX_DOWNLOAD_ATTEMPTS = 5;
export const DOWNLOAD_ATTEMPT_WINDOW_MS = 15 * 60 * 1000;

/**
 * Counts wrong passphrases per stored file, in memory. It slows guessing through the
 * user interface only: anyone who can read the store folder can guess offline, which the
 * 600,000 PBKDF2 iterations of each guess make slow.
 */
export class DownloadAttempts {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Returns the attempts left for `id` in the current window. */
  left(id: string): number {
    return Math.max(0, MAX_DOWNLOAD_ATTEMPTS - this.recent(id).length);
  }

  /** Milliseconds until the oldest failure of `id` leaves the window. */
  retryAfterMs(id: string): number {
    const oldest = this.recent(id)[0];
    return oldest === undefined ? 0 : Math.max(0, oldest + DOWNLOAD_ATTEMPT_WINDOW_MS - this.now());
  }

  fail(id: string): void {
    this.failures.set(id, [...this.recent(id), this.now()]);
  }

  succeed(id: string): void {
    this.failures.delete(id);
  }

  private recent(id: string): number[] {
    const since = this.now() - DOWNLOAD_ATTEMPT_WINDOW_MS;
    return (this.failures.get(id) ?? []).filter((time) => time > since);
  }
}

/** The download form's values. */
export interface DownloadForm {
  passphrase: string;
  zipPassword: string;
  zipPasswordConfirm: string;
  usePassphrase: boolean;
}

export type DownloadOutcome =
  | { kind: 'written'; path: string; archiveBytes: number }
  | { kind: 'invalid'; field: DownloadField; text: string }
  | { kind: 'wrongPassphrase'; text: string; attemptsLeft: number }
  | { kind: 'locked'; text: string }
  | { kind: 'cancelled' }
  | { kind: 'failed'; text: string };

export class Downloader {
  private readonly attempts = new DownloadAttempts();

  constructor(
    private readonly storeService: StoreService,
    private readonly secrets: Secrets,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /**
   * Checks the form, opens the envelope of entry `id`, calls `chooseTarget` for the save
   * location and writes the ZIP there. Reports every result as an outcome and never throws.
   * `onBusy` receives status texts for the user while the steps run.
   */
  async download(
    id: string,
    form: DownloadForm,
    chooseTarget: (entry: StoreEntry) => Thenable<string | undefined>,
    onBusy: (text: string) => void = () => undefined,
  ): Promise<DownloadOutcome> {
    const checked = await this.checkForm(form);
    if (typeof checked !== 'string') {
      return checked;
    }
    const zipPassword = checked;

    if (this.attempts.left(id) === 0) {
      return { kind: 'locked', text: this.lockedText(id) };
    }

    let entry: StoreEntry;
    let payload: import('node:stream').Readable;
    let mtimeMs: number | null;
    try {
      entry = await this.storeService.get(id);
      const identity = await this.secrets.receiverIdentity();
      if (!identity) {
        return {
          kind: 'failed',
          text: vscode.l10n.t("The receiver's private key is not in this editor's secret storage, so stored files cannot be decrypted here."),
        };
      }

      const crypto = await loadCrypto();
      const privateKey = crypto.parsePrivateKey(identity.envelopePrivateKeyPem, undefined, "the receiver's envelope key");
      const opened = await crypto.openEnvelope(await this.storeService.openEnvelope(id), {
        passphrase: form.passphrase,
        privateKeys: [privateKey],
      });
      payload = opened.payload;
      mtimeMs = opened.metadata.mtimeMs;
    } catch (error) {
      if (isSftError(error, 'ENVELOPE_WRONG_PASSPHRASE')) {
        this.attempts.fail(id);
        this.log.warn(`Wrong passphrase for stored file ${id}; ${this.attempts.left(id)} attempts left.`);
        const left = this.attempts.left(id);
        if (left === 0) {
          return { kind: 'locked', text: this.lockedText(id) };
        }
        return { kind: 'wrongPassphrase', text: vscode.l10n.t('Wrong passphrase for this file.'), attemptsLeft: left };
      }
      logError(this.log, `Opening stored file ${id}`, error);
      return { kind: 'failed', text: errorText(error) };
    }
    this.attempts.succeed(id);

    onBusy(vscode.l10n.t('Choose where to save the ZIP…'));
    const target = await chooseTarget(entry);
    if (target === undefined) {
      payload.destroy();
      return { kind: 'cancelled' };
    }

    onBusy(vscode.l10n.t('Writing {0}…', path.basename(target)));
    try {
      const { writeEncryptedZipFile } = await loadZip();
      const mtimeOrReceived = mtimeMs ?? Date.parse(entry.receivedAt);
      const mtime = Number.isFinite(mtimeOrReceived) ? new Date(mtimeOrReceived) : new Date();
      const summary = await writeEncryptedZipFile(target, [{ name: entryLabel(entry), mtime, source: payload }], zipPassword);
      this.log.info(`Downloaded stored file ${id} to ${target} (${summary.archiveBytes} bytes).`);
      return { kind: 'written', path: target, archiveBytes: summary.archiveBytes };
    } catch (error) {
      payload.destroy();
      logError(this.log, `Writing the ZIP of stored file ${id} to ${target}`, error);
      return { kind: 'failed', text: errorText(error) };
    }
  }

  /** Returns the ZIP password to use, or the outcome that reports the form's problem. */
  private async checkForm(form: DownloadForm): Promise<string | DownloadOutcome> {
    if (form.passphrase.length === 0) {
      return { kind: 'invalid', field: 'passphrase', text: vscode.l10n.t("Enter the sender's passphrase.") };
    }
    if (!form.usePassphrase && form.zipPassword !== form.zipPasswordConfirm) {
      return { kind: 'invalid', field: 'zipPasswordConfirm', text: vscode.l10n.t('The ZIP passwords do not match.') };
    }

    const zipPassword = form.usePassphrase ? form.passphrase : form.zipPassword;
    const { encodeZipPassword } = await loadZip();
    try {
      encodeZipPassword(zipPassword).fill(0);
    } catch (error) {
      return { kind: 'invalid', field: form.usePassphrase ? 'passphrase' : 'zipPassword', text: errorText(error) };
    }
    return zipPassword;
  }

  private lockedText(id: string): string {
    const minutes = Math.max(1, Math.ceil(this.attempts.retryAfterMs(id) / 60_000));
    return vscode.l10n.t('Too many wrong passphrases for this file. Try again in {0} minutes.', minutes);
  }
}

/** Proposes `NAME.zip` in the Downloads folder when it exists, else in the home folder. */
async function proposedZipPath(entry: StoreEntry): Promise<vscode.Uri> {
  const downloads = path.join(os.homedir(), 'Downloads');
  const folder = await vscode.workspace.fs.stat(vscode.Uri.file(downloads)).then(
    () => downloads,
    () => os.homedir(),
  );
  return vscode.Uri.file(path.join(folder, `${entry.displayName}.zip`));
}

async function askSaveLocation(entry: StoreEntry): Promise<string | undefined> {
  const uri = await vscode.window.showSaveDialog({
    title: vscode.l10n.t('Save {0} as a password-protected ZIP', entry.displayName),
    defaultUri: await proposedZipPath(entry),
    filters: { [vscode.l10n.t('ZIP archives')]: ['zip'] },
    saveLabel: vscode.l10n.t('Save ZIP'),
  });
  if (uri?.scheme !== 'file') {
    return undefined;
  }
  await createChosenFolder(uri);
  return uri.fsPath;
}

/** Opens one download panel per stored file and runs its submissions through the Downloader. */
export class DownloadPanels implements vscode.Disposable {
  private readonly panels = new Map<string, DownloadPanel>();

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly downloader: Downloader,
  ) {}

  open(entry: StoreEntry): void {
    const existing = this.panels.get(entry.id);
    if (existing) {
      existing.reveal();
      return;
    }

    const panel = new DownloadPanel(this.extensionUri, {
      name: entryLabel(entry),
      size: formatBytes(entry.plaintextSize),
      sender: `${entry.senderUsername} (${entry.remoteAddress})`,
      receivedAt: formatTime(entry.receivedAt),
    });
    this.panels.set(entry.id, panel);
    panel.onDidDispose(() => this.panels.delete(entry.id));

    let busy = false;
    panel.onDidSubmit(async (form) => {
      if (busy) {
        return;
      }
      busy = true;
      panel.showBusy(vscode.l10n.t('Checking the passphrase…'));
      const outcome = await this.downloader.download(entry.id, form, askSaveLocation, (text) => panel.showBusy(text));
      busy = false;
      this.show(panel, outcome);
    });
  }

  private show(panel: DownloadPanel, outcome: DownloadOutcome): void {
    switch (outcome.kind) {
      case 'written': {
        panel.dispose();
        const text = vscode.l10n.t('Saved {0} ({1}).', outcome.path, formatBytes(outcome.archiveBytes));
        // The operating system's file manager is only reachable when the editor runs on the same machine.
        const local = vscode.env.remoteName === undefined && vscode.env.uiKind === vscode.UIKind.Desktop;
        if (!local) {
          void vscode.window.showInformationMessage(text);
          return;
        }
        const reveal = vscode.l10n.t('Reveal in File Explorer');
        void vscode.window
          .showInformationMessage(text, reveal)
          .then((choice) => {
            if (choice === reveal) {
              void vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(outcome.path));
            }
          });
        return;
      }
      case 'invalid':
        panel.showError(outcome.field, outcome.text);
        return;
      case 'wrongPassphrase':
        panel.showError('passphrase', outcome.text, outcome.attemptsLeft);
        return;
      case 'locked':
        panel.showLocked(outcome.text);
        return;
      case 'cancelled':
        panel.showError('general', vscode.l10n.t('No location was chosen, so nothing was written.'));
        return;
      case 'failed':
        panel.showError('general', outcome.text);
        return;
    }
  }

  dispose(): void {
    for (const panel of this.panels.values()) {
      panel.dispose();
    }
  }
}

/** Returns the stored entries among the command's arguments: the clicked node and the selection. */
export function entriesFromArguments(node: unknown, selection: unknown): StoreEntry[] {
  const nodes = Array.isArray(selection) && selection.length > 0 ? selection : [node];
  return nodes
    .filter((candidate): candidate is Extract<ReceivedFilesNode, { kind: 'entry' }> => {
      return typeof candidate === 'object' && candidate !== null && (candidate as ReceivedFilesNode).kind === 'entry';
    })
    .map((candidate) => candidate.entry);
}

/** Asks for confirmation in a modal dialog, then removes the entries from the store. */
export async function deleteEntriesCommand(storeService: StoreService, log: vscode.LogOutputChannel, entries: StoreEntry[]): Promise<void> {
  if (entries.length === 0) {
    void vscode.window.showInformationMessage(vscode.l10n.t('Select a received file in the Received Files view first.'));
    return;
  }

  const remove = vscode.l10n.t('Delete');
  const question =
    entries.length === 1
      ? vscode.l10n.t('Delete {0} from {1}?', entryLabel(entries[0]), entries[0].senderUsername)
      : vscode.l10n.t('Delete {0} received files?', entries.length);
  const answer = await vscode.window.showWarningMessage(
    question,
    { modal: true, detail: vscode.l10n.t('The encrypted file is removed from the store. This cannot be undone.') },
    remove,
  );
  if (answer !== remove) {
    return;
  }

  for (const entry of entries) {
    try {
      await storeService.remove(entry.id);
    } catch (error) {
      reportError(log, vscode.l10n.t('Deleting {0} failed', entryLabel(entry)), error);
    }
  }
}
