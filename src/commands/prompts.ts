/**
 * Input boxes for secrets, shared by the commands that ask for a passphrase.
 */
import * as vscode from 'vscode';
import { MIN_PASSPHRASE_LENGTH } from '../views/messages';

/** Asks for a new passphrase twice; returns undefined when the user cancels. */
export async function askNewPassphrase(title: string, purpose: string): Promise<string | undefined> {
  const first = await vscode.window.showInputBox({
    title,
    prompt: purpose,
    password: true,
    ignoreFocusOut: true,
    validateInput: (value) =>
      value.length < MIN_PASSPHRASE_LENGTH
        ? vscode.l10n.t('Use at least {0} characters.', MIN_PASSPHRASE_LENGTH)
        : undefined,
  });
  if (first === undefined) {
    return undefined;
  }

  const second = await vscode.window.showInputBox({
    title,
    prompt: vscode.l10n.t('Type the passphrase again to confirm it.'),
    password: true,
    ignoreFocusOut: true,
    validateInput: (value) => (value === first ? undefined : vscode.l10n.t('The passphrases do not match.')),
  });
  return second === undefined ? undefined : first;
}

/** Asks once for an existing passphrase; returns undefined when the user cancels. */
export async function askPassphrase(title: string, prompt: string): Promise<string | undefined> {
  return vscode.window.showInputBox({
    title,
    prompt,
    password: true,
    ignoreFocusOut: true,
    validateInput: (value) => (value.length === 0 ? vscode.l10n.t('The passphrase is empty.') : undefined),
  });
}
