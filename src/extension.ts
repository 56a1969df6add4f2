/**
 * Activation of the Secure File Transfer extension: constructs the services, views and
 * commands and registers them. No core module is loaded here; the commands load them on
 * first use (see src/commands/core.ts), so activation stays fast.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { AccountsService, manageAccountsCommand } from './commands/accounts';
import { deleteEntriesCommand, Downloader, DownloadPanels, entriesFromArguments } from './commands/download';
import { RECEIVER_RUNNING_CONTEXT, ReceiverController } from './commands/receiverController';
import { copyReceiverLinkCommand, startReceiverCommand, stopReceiverCommand } from './commands/receiverCommands';
import { logError, reportError } from './commands/report';
import { SavedReceivers, pickPinnedReceiver } from './commands/savedReceivers';
import { Secrets } from './commands/secrets';
import { SendController } from './commands/send';
import { onDidChangeSettings, readSettings, Settings } from './commands/settings';
import { StoreService } from './commands/storeService';
import { createTestApi, SecureFileTransferTestApi } from './commands/testApi';
import { decryptFileCommand, encryptFileCommand, generateKeyPairCommand } from './commands/tools';
import { entryLabel, ReceivedFilesProvider, ReceivedFilesSource } from './views/receivedFiles';
import { ReceiversDropController, ReceiversProvider, SavedReceiver } from './views/receivers';
import { ReceiverStatusBar } from './views/statusBar';

export type { SecureFileTransferTestApi } from './commands/testApi';

/** Stops the receiver when the extension host shuts down. */
let stopOnDeactivate: (() => Promise<void>) | undefined;

export function activate(context: vscode.ExtensionContext): SecureFileTransferTestApi {
  const disposables = context.subscriptions;
  const log = vscode.window.createOutputChannel(vscode.l10n.t('Secure File Transfer'), { log: true });
  disposables.push(log);

  const defaultStoreDirectory = path.join(context.globalStorageUri.fsPath, 'store');
  let settings = readSettings(defaultStoreDirectory);
  const currentSettings = (): Settings => settings;

  // Services.
  const secrets = new Secrets(context.secrets, log);
  const storeService = new StoreService(() => settings.storeDirectory, log);
  const receiver = new ReceiverController(secrets, storeService, currentSettings, log);
  // The running receiver's store folder wins over a changed setting until the receiver restarts.
  const accounts = new AccountsService(() => storeService.dir, log);
  const savedReceivers = new SavedReceivers(context.globalState, context.globalStorageUri);
  const sender = new SendController(context.extensionUri, secrets, savedReceivers, currentSettings, log);
  const downloader = new Downloader(storeService, secrets, log);
  const downloadPanels = new DownloadPanels(context.extensionUri, downloader);
  disposables.push(storeService, receiver, savedReceivers, downloadPanels);

  // Views.
  const receivedSource: ReceivedFilesSource = {
    onDidChange: (listener, thisArgs, list) => {
      const both = vscode.Disposable.from(storeService.onDidChange(listener, thisArgs), receiver.onDidChange(listener, thisArgs));
      list?.push(both);
      return both;
    },
    entries: async () => {
      try {
        return await storeService.entries();
      } catch (error) {
        logError(log, `Listing ${storeService.dir}`, error);
        return [];
      }
    },
    uploads: () => receiver.uploads(),
  };
  const receivedFiles = new ReceivedFilesProvider(receivedSource);
  const receivers = new ReceiversProvider(savedReceivers);
  const statusBar = new ReceiverStatusBar();
  disposables.push(
    receivedFiles,
    receivers,
    statusBar,
    vscode.window.createTreeView('secureFileTransfer.receivedFiles', {
      treeDataProvider: receivedFiles,
      showCollapseAll: true,
      canSelectMany: true,
    }),
    vscode.window.createTreeView('secureFileTransfer.receivers', {
      treeDataProvider: receivers,
      dragAndDropController: new ReceiversDropController((target, uris) => void sender.sendToReceiver(target, uris)),
    }),
    receiver.onDidChange(() => {
      const info = receiver.info;
      statusBar.update(info && { ...info, activeTransfers: receiver.activeTransfers });
    }),
  );
  void vscode.commands.executeCommand('setContext', RECEIVER_RUNNING_CONTEXT, false);

  // Commands.
  const tools = { log, pbkdf2Iterations: () => settings.pbkdf2Iterations };
  const register = (id: string, handler: (...args: any[]) => unknown) => {
    disposables.push(vscode.commands.registerCommand(`secureFileTransfer.${id}`, handler));
  };
  register('send', (uri?: unknown, uris?: unknown) => sender.sendCommand(uri, uris));
  register('sendToReceiver', (target?: SavedReceiver) => sender.sendToReceiver(target));
  register('forgetReceiver', async (target?: SavedReceiver) => {
    if (target) {
      await savedReceivers.forget(target);
      await secrets.forgetPassword(target.address, target.username);
      return;
    }
    // From the palette: any pinned fingerprint, also one whose login never succeeded.
    const address = await pickPinnedReceiver(savedReceivers);
    if (address) {
      for (const saved of await savedReceivers.forgetAddress(address)) {
        await secrets.forgetPassword(saved.address, saved.username);
      }
    }
  });
  register('startReceiver', () => startReceiverCommand(receiver, accounts, log));
  register('stopReceiver', () => stopReceiverCommand(receiver, log));
  register('copyReceiverLink', () => copyReceiverLinkCommand(receiver));
  register('manageAccounts', () => manageAccountsCommand(accounts, log));
  register('refreshReceivedFiles', () => storeService.refresh());
  register('download', async (node?: unknown) => {
    const entry = entriesFromArguments(node, undefined)[0] ?? (await pickEntry(storeService));
    if (entry) {
      downloadPanels.open(entry);
    }
  });
  register('delete', (node?: unknown, selection?: unknown) => deleteEntriesCommand(storeService, log, entriesFromArguments(node, selection)));
  register('generateKeyPair', () => generateKeyPairCommand(tools));
  register('encryptFile', (uri?: unknown) => encryptFileCommand(tools, uri));
  register('decryptFile', (uri?: unknown) => decryptFileCommand(tools, uri));
  register('showLog', () => log.show());

  // Settings.
  disposables.push(
    onDidChangeSettings(() => {
      const previous = settings;
      settings = readSettings(defaultStoreDirectory);
      const listenerChanged =
        previous.receiverHost !== settings.receiverHost ||
        previous.receiverPort !== settings.receiverPort ||
        previous.storeDirectory !== settings.storeDirectory;
      if (!listenerChanged) {
        return;
      }
      storeService.refresh();
      if (receiver.info) {
        const restart = vscode.l10n.t('Restart Receiver');
        void vscode.window
          .showInformationMessage(vscode.l10n.t('The receiver settings changed. Restart the receiver to apply them.'), restart)
          .then(async (choice) => {
            if (choice === restart) {
              await receiver.stop(true);
              await startReceiverCommand(receiver, accounts, log);
            }
          });
      }
    }),
  );

  stopOnDeactivate = () => receiver.stop(false);
  if (settings.autoStart) {
    void receiver.start().then(
      (info) => log.info(`Started the receiver on ${info.address} because auto-start is on.`),
      (error: unknown) => reportError(log, vscode.l10n.t('Starting the receiver failed'), error),
    );
  }

  return createTestApi({
    storeService,
    receiver,
    accounts,
    sender,
    downloader,
    savedReceivers,
    receivedFiles,
    globalState: context.globalState,
    logUri: context.logUri,
  });
}

/** Stops the receiver; uploads in flight stay as partial files that their senders resume. */
export async function deactivate(): Promise<void> {
  await stopOnDeactivate?.();
  stopOnDeactivate = undefined;
}

/** Lets the user pick a received file when Download… runs without a tree item. */
async function pickEntry(storeService: StoreService) {
  const entries = await storeService.entries();
  if (entries.length === 0) {
    void vscode.window.showInformationMessage(vscode.l10n.t('No files have been received yet.'));
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    entries.map((entry) => ({ label: entryLabel(entry), description: entry.senderUsername, entry })),
    { title: vscode.l10n.t('Download a received file') },
  );
  return picked?.entry;
}
