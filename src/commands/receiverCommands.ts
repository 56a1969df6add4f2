/**
 * Start Receiver, Stop Receiver and Copy Receiver Link.
 */
import * as vscode from 'vscode';
import { AccountsService } from './accounts';
import { ReceiverController, STOP_GRACE_MS } from './receiverController';
import { reportError } from './report';

export async function startReceiverCommand(receiver: ReceiverController, accounts: AccountsService, log: vscode.LogOutputChannel): Promise<void> {
  try {
    const info = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Starting the receiver…') },
      () => receiver.start(),
    );

    const copy = vscode.l10n.t('Copy Receiver Link');
    const manage = vscode.l10n.t('Manage Accounts');
    const hasAccounts = (await accounts.list().catch(() => [])).length > 0;
    const text = hasAccounts
      ? vscode.l10n.t('The receiver is listening on {0}.', info.address)
      : vscode.l10n.t('The receiver is listening on {0}. Add an account so that senders can log in.', info.address);
    void vscode.window.showInformationMessage(text, copy, manage).then((choice) => {
      if (choice === copy) {
        void vscode.commands.executeCommand('secureFileTransfer.copyReceiverLink');
      } else if (choice === manage) {
        void vscode.commands.executeCommand('secureFileTransfer.manageAccounts');
      }
    });
  } catch (error) {
    reportError(log, vscode.l10n.t('Starting the receiver failed'), error);
  }
}

export async function stopReceiverCommand(receiver: ReceiverController, log: vscode.LogOutputChannel): Promise<void> {
  if (!receiver.info) {
    void vscode.window.showInformationMessage(vscode.l10n.t('The receiver is not running.'));
    return;
  }
  const active = receiver.activeTransfers;
  try {
    await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title:
          active > 0
            ? vscode.l10n.t('Stopping the receiver; {0} files in progress get {1} seconds to finish…', active, STOP_GRACE_MS / 1000)
            : vscode.l10n.t('Stopping the receiver…'),
      },
      () => receiver.stop(true),
    );
    void vscode.window.showInformationMessage(
      active > 0
        ? vscode.l10n.t('The receiver has stopped. Files that did not finish are kept, and their senders resume them on the next start.')
        : vscode.l10n.t('The receiver has stopped.'),
    );
  } catch (error) {
    reportError(log, vscode.l10n.t('Stopping the receiver failed'), error);
  }
}

export async function copyReceiverLinkCommand(receiver: ReceiverController): Promise<void> {
  const info = receiver.info;
  if (!info) {
    const start = vscode.l10n.t('Start Receiver');
    const choice = await vscode.window.showInformationMessage(vscode.l10n.t('The receiver is not running, so it has no link yet.'), start);
    if (choice === start) {
      await vscode.commands.executeCommand('secureFileTransfer.startReceiver');
    }
    return;
  }
  await vscode.env.clipboard.writeText(info.link);
  void vscode.window.showInformationMessage(vscode.l10n.t('Copied {0}. Give it to senders together with an account.', info.link));
}
