/**
 * Manage Accounts…: adds and removes the accounts senders log in with.
 */
import * as vscode from 'vscode';
import { isSftError } from '../errors';
import { formatTime } from '../views/format';
import { loadAccounts } from './core';
import { reportError } from './report';

export class AccountsService {
  constructor(
    private readonly storeDirectory: () => string,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  async list(): Promise<Array<{ username: string; createdAt: string }>> {
    const { Accounts } = await loadAccounts();
    return (await Accounts.open(this.storeDirectory())).list();
  }

  /** Adds an account; throws USAGE for an invalid username or password and ACCOUNT_EXISTS. */
  async add(username: string, password: string): Promise<void> {
    const { Accounts } = await loadAccounts();
    await (await Accounts.open(this.storeDirectory())).add(username, password);
    this.log.info(`Added account ${username}.`);
  }

  /** Removes an account; throws ACCOUNT_NOT_FOUND. */
  async remove(username: string): Promise<void> {
    const { Accounts } = await loadAccounts();
    await (await Accounts.open(this.storeDirectory())).remove(username);
    this.log.info(`Removed account ${username}.`);
  }
}

type AccountItem = vscode.QuickPickItem & { action: 'add' } | vscode.QuickPickItem & { action: 'account'; username: string };

/** Shows the accounts in a quick pick, with an item to add one and a button to remove each. */
export async function manageAccountsCommand(accounts: AccountsService, log: vscode.LogOutputChannel): Promise<void> {
  const title = vscode.l10n.t('Manage Accounts');
  const removeButton: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon('trash'), tooltip: vscode.l10n.t('Remove Account') };

  let items: AccountItem[];
  try {
    items = [
      { label: `$(add) ${vscode.l10n.t('Add Account…')}`, action: 'add', alwaysShow: true },
      { label: vscode.l10n.t('Accounts'), kind: vscode.QuickPickItemKind.Separator, action: 'add' },
      ...(await accounts.list()).map(
        (account): AccountItem => ({
          label: `$(account) ${account.username}`,
          description: vscode.l10n.t('added {0}', formatTime(account.createdAt)),
          buttons: [removeButton],
          action: 'account',
          username: account.username,
        }),
      ),
    ];
  } catch (error) {
    reportError(log, vscode.l10n.t('Reading the accounts failed'), error);
    return;
  }

  const pick = vscode.window.createQuickPick<AccountItem>();
  pick.title = title;
  pick.placeholder = vscode.l10n.t('Senders log in to this receiver with these accounts');
  pick.items = items;

  const chosen = await new Promise<{ item: AccountItem; remove: boolean } | undefined>((resolve) => {
    pick.onDidAccept(() => resolve(pick.selectedItems[0] ? { item: pick.selectedItems[0], remove: false } : undefined));
    pick.onDidTriggerItemButton((event) => resolve({ item: event.item, remove: true }));
    pick.onDidHide(() => resolve(undefined));
    pick.show();
  });
  pick.dispose();
  if (!chosen) {
    return;
  }

  if (chosen.item.action === 'add') {
    await addAccountFlow(accounts, log);
  } else {
    await removeAccountFlow(accounts, log, chosen.item.username);
  }
}

async function addAccountFlow(accounts: AccountsService, log: vscode.LogOutputChannel): Promise<void> {
  const title = vscode.l10n.t('Add Account');
  const { validateUsername } = await loadAccounts();

  const username = await vscode.window.showInputBox({
    title,
    prompt: vscode.l10n.t('Username the sender logs in with'),
    ignoreFocusOut: true,
    validateInput: (value) => {
      try {
        validateUsername(value);
        return undefined;
      } catch (error) {
        return isSftError(error) ? error.message : String(error);
      }
    },
  });
  if (username === undefined) {
    return;
  }

  const password = await vscode.window.showInputBox({
    title,
    prompt: vscode.l10n.t('Password for {0}', username),
    password: true,
    ignoreFocusOut: true,
    validateInput: (value) => (value.length === 0 ? vscode.l10n.t('The password is empty.') : undefined),
  });
  if (password === undefined) {
    return;
  }
  const confirmation = await vscode.window.showInputBox({
    title,
    prompt: vscode.l10n.t('Type the password again to confirm it.'),
    password: true,
    ignoreFocusOut: true,
    validateInput: (value) => (value === password ? undefined : vscode.l10n.t('The passwords do not match.')),
  });
  if (confirmation === undefined) {
    return;
  }

  try {
    await accounts.add(username, password);
    void vscode.window.showInformationMessage(vscode.l10n.t('Added the account {0}. Give the sender the password by another channel.', username));
  } catch (error) {
    reportError(log, vscode.l10n.t('Adding the account {0} failed', username), error);
  }
}

async function removeAccountFlow(accounts: AccountsService, log: vscode.LogOutputChannel, username: string): Promise<void> {
  const remove = vscode.l10n.t('Remove');
  const answer = await vscode.window.showWarningMessage(
    vscode.l10n.t('Remove the account {0}?', username),
    { modal: true, detail: vscode.l10n.t('The sender can no longer log in. Files already received stay.') },
    remove,
  );
  if (answer !== remove) {
    return;
  }
  try {
    await accounts.remove(username);
    void vscode.window.showInformationMessage(vscode.l10n.t('Removed the account {0}.', username));
  } catch (error) {
    reportError(log, vscode.l10n.t('Removing the account {0} failed', username), error);
  }
}
