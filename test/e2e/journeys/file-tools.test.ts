/**
 * The stand-alone tools: Generate RSA Key Pair…, Encrypt File… and Decrypt
 * File…, each run from the command palette and from the Explorer's context
 * menu. Two round trips (RSA keys, then a passphrase) must give back the
 * original bytes.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { journey, useSession } from '../harness';
import { command } from '../manifest';
import {
  chooseInFileDialog,
  fillInputBox,
  resetWindow,
  chooseQuickPickItem,
  pseudoRandomBytes,
  runExtensionCommand,
  sha256File,
} from './steps';

const KEY_PASSPHRASE = 'walnut compass drizzle';
const FILE_PASSPHRASE = 'lilac ferry pebble';
/** Milliseconds for generating the key pair and writing it. */
const KEYGEN_MS = 60_000;

const session = useSession({
  files: {
    'contract.txt': pseudoRandomBytes(20_000, 'contract'),
    'photo.bin': pseudoRandomBytes(50_000, 'photo'),
    'keys/README.txt': 'Key pairs for the journeys.\n',
    'sealed/README.txt': 'Encrypted and decrypted copies.\n',
  },
});

const menuTitle = (commandId: string) => command(commandId).title;

journey('RSA keys encrypt and decrypt', session, async ({ workbench, page, workspace }) => {
  await resetWindow(workbench);
  const keysDir = path.join(workspace, 'keys');
  const original = path.join(workspace, 'contract.txt');
  const sealed = path.join(workspace, 'sealed', 'contract.txt.sft');
  const opened = path.join(workspace, 'sealed', 'contract.rsa.txt');

  // Generate RSA Key Pair… from the palette.
  await runExtensionCommand(workbench, 'secureFileTransfer.generateKeyPair');
  assert.deepEqual(await chooseQuickPickItem(page, '2048'), ['3072', '4096', '2048']);
  await fillInputBox(page, 'Passphrase that encrypts the private key file', KEY_PASSPHRASE);
  await fillInputBox(page, 'Type the passphrase again', KEY_PASSPHRASE);
  const folderDialog = await chooseInFileDialog(page, keysDir);
  assert.equal(folderDialog.acceptLabel, 'Save Key Pair Here');
  const wrote = await workbench.waitForNotification(/^Wrote /, KEYGEN_MS);
  assert.match(wrote, /Fingerprint: SHA256:[A-Za-z0-9+/]{43}$/);
  assert.match(fs.readFileSync(path.join(keysDir, 'private.pem'), 'utf8'), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
  assert.match(fs.readFileSync(path.join(keysDir, 'public.pem'), 'utf8'), /^-----BEGIN PUBLIC KEY-----/);

  // Encrypt File… from the palette, for the public key.
  await runExtensionCommand(workbench, 'secureFileTransfer.encryptFile');
  await chooseInFileDialog(page, original);
  await chooseQuickPickItem(page, 'RSA public keys');
  const keyDialog = await chooseInFileDialog(page, path.join(keysDir, 'public.pem'));
  assert.equal(keyDialog.acceptLabel, 'Use These Keys');
  const saveSealed = await chooseInFileDialog(page, sealed);
  assert.equal(saveSealed.title, 'Save the encrypted file as');
  await workbench.waitForNotification(`Encrypted contract.txt to ${sealed}.`);
  assert.ok(!fs.readFileSync(sealed).includes(fs.readFileSync(original).subarray(0, 64)), 'the envelope contains the plaintext');

  // Decrypt File… from the Explorer, with the private key and its passphrase.
  await workbench.contextMenu('sealed/contract.txt.sft', menuTitle('secureFileTransfer.decryptFile'));
  const privateKeyDialog = await chooseInFileDialog(page, path.join(keysDir, 'private.pem'));
  assert.equal(privateKeyDialog.acceptLabel, 'Use This Key');
  await fillInputBox(page, 'Passphrase of the private key private.pem', KEY_PASSPHRASE);
  await chooseInFileDialog(page, opened);
  await workbench.waitForNotification(`Decrypted contract.txt.sft to ${opened}.`);

  assert.equal(sha256File(opened), sha256File(original));
}, { timeout: 240_000 });

journey('passphrase encrypts and decrypts', session, async ({ workbench, page, workspace }) => {
  await resetWindow(workbench);
  const original = path.join(workspace, 'photo.bin');
  const sealed = path.join(workspace, 'sealed', 'photo.bin.sft');
  // A folder that does not exist yet: the save dialog offers to create it.
  const opened = path.join(workspace, 'restored', 'photo.bin');

  // Encrypt File… from the Explorer, for a passphrase. The menu offers it on
  // plain files and Decrypt File… on envelopes.
  const menu = await workbench.openContextMenu('photo.bin');
  await page.keyboard.press('Escape');
  assert.ok(menu.includes(menuTitle('secureFileTransfer.encryptFile')), `Encrypt File… missing from the menu: ${menu.join(', ')}`);
  assert.ok(!menu.includes(menuTitle('secureFileTransfer.decryptFile')), 'Decrypt File… offered on a plain file');

  await workbench.contextMenu('photo.bin', menuTitle('secureFileTransfer.encryptFile'));
  await chooseQuickPickItem(page, 'Passphrase');
  await fillInputBox(page, 'Passphrase for photo.bin', FILE_PASSPHRASE);
  await fillInputBox(page, 'Type the passphrase again', FILE_PASSPHRASE);
  await chooseInFileDialog(page, sealed);
  await workbench.waitForNotification(`Encrypted photo.bin to ${sealed}.`);

  // Decrypt File… from the palette. An envelope with only a passphrase stanza
  // goes straight to the passphrase prompt.
  await runExtensionCommand(workbench, 'secureFileTransfer.decryptFile');
  await chooseInFileDialog(page, sealed);
  await fillInputBox(page, 'Passphrase for photo.bin.sft', FILE_PASSPHRASE);
  await chooseInFileDialog(page, opened);
  await workbench.waitForNotification(`Decrypted photo.bin.sft to ${opened}.`);

  assert.equal(sha256File(opened), sha256File(original));
});
