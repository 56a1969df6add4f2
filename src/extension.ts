import * as vscode from 'vscode';

export function activate(_context: vscode.ExtensionContext): void {
  // The VS Code layer is wired in src/views and src/commands.
}

export function deactivate(): void {}
