/**
 * Smoke tests of the extension inside a real extension host: it is loaded from
 * the development folder, activates, and registers what its manifest contributes.
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';

const EXTENSION_ID = 'secure-file-transfer.secure-file-transfer';

interface ContributedCommand {
  command: string;
}

function getExtension(): vscode.Extension<unknown> {
  const extension = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(extension, `Extension ${EXTENSION_ID} is not loaded in this extension host.`);
  return extension;
}

suite('Extension', () => {
  test('is loaded from the development folder', () => {
    const extension = getExtension();

    assert.equal(extension.packageJSON.name, 'secure-file-transfer');
    assert.equal(extension.extensionKind, vscode.ExtensionKind.Workspace);
  });

  test('activates without error', async () => {
    const extension = getExtension();

    await extension.activate();

    assert.equal(extension.isActive, true);
  });

  test('registers every contributed command', async () => {
    const extension = getExtension();
    await extension.activate();
    const contributed: ContributedCommand[] = extension.packageJSON.contributes?.commands ?? [];
    const registered = new Set(await vscode.commands.getCommands(true));

    const missing = contributed.map((c) => c.command).filter((id) => !registered.has(id));

    assert.ok(contributed.length > 0, 'package.json contributes no commands.');
    assert.deepEqual(missing, [], 'Commands in package.json that activate() did not register.');
  });
});
