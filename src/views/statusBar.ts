/**
 * Status bar item of the receiver: where it listens and how many uploads are active.
 */
import * as vscode from 'vscode';

export interface ReceiverStatus {
  /** `HOST:PORT` the receiver listens on. */
  address: string;
  link: string;
  fingerprint: string;
  activeTransfers: number;
}

export class ReceiverStatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;

  constructor() {
    this.item = vscode.window.createStatusBarItem('secureFileTransfer.receiverStatus', vscode.StatusBarAlignment.Left, 10);
    this.item.name = vscode.l10n.t('Secure File Transfer Receiver');
    this.item.command = 'secureFileTransfer.copyReceiverLink';
  }

  /** Shows the running receiver, or hides the item for `undefined`. */
  update(status: ReceiverStatus | undefined): void {
    if (!status) {
      this.item.hide();
      return;
    }

    const active = status.activeTransfers > 0 ? ` $(sync~spin) ${status.activeTransfers}` : '';
    this.item.text = `$(radio-tower) ${status.address}${active}`;
    this.item.accessibilityInformation = {
      label: vscode.l10n.t('Receiver listening on {0}, {1} active transfers', status.address, status.activeTransfers),
    };

    const tooltip = new vscode.MarkdownString(undefined, true);
    tooltip.appendMarkdown(`$(radio-tower) ${vscode.l10n.t('Receiver listening on {0}', status.address)}\n\n`);
    tooltip.appendMarkdown(`${vscode.l10n.t('Active transfers')}: ${status.activeTransfers}  \n`);
    tooltip.appendMarkdown(`${vscode.l10n.t('Fingerprint')}: \`${status.fingerprint}\`\n\n`);
    tooltip.appendMarkdown(vscode.l10n.t('Click to copy the receiver link.'));
    this.item.tooltip = tooltip;
    this.item.show();
  }

  dispose(): void {
    this.item.dispose();
  }
}
