/**
 * Shows errors to the user and writes them to the log, the same way in every command.
 */
import * as vscode from 'vscode';
import { isSftError } from '../errors';

/**
 * Returns the text to show for `error`. An SftError's message is the same one the
 * command line prints; anything else is a bug, so its details go to the log only.
 */
export function errorText(error: unknown): string {
  if (isSftError(error)) {
    return error.message;
  }
  return vscode.l10n.t('An unexpected error occurred. See the Secure File Transfer log for details.');
}

/**
 * Logs `error` under `action` and shows it in an error notification with a Show Log button.
 * Returns at once: the notification stays open without holding up the command.
 */
export function reportError(log: vscode.LogOutputChannel, action: string, error: unknown): void {
  logError(log, action, error);

  const showLog = vscode.l10n.t('Show Log');
  void vscode.window.showErrorMessage(`${action}: ${errorText(error)}`, showLog).then((choice) => {
    if (choice === showLog) {
      log.show(true);
    }
  });
}

/** Writes `error` to the log: code and message for an SftError, the stack for anything else. */
export function logError(log: vscode.LogOutputChannel, action: string, error: unknown): void {
  if (isSftError(error)) {
    log.error(`${action}: ${error.code}: ${error.message}`);
  } else if (error instanceof Error) {
    log.error(`${action}: ${error.stack ?? error.message}`);
  } else {
    log.error(`${action}: ${String(error)}`);
  }
}
