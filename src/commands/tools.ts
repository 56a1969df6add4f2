/**
 * Stand-alone tools: Generate RSA Key Pair…, Encrypt File… and Decrypt File….
 *
 * Each asks for its inputs with quick picks, input boxes and file dialogs, then calls the
 * crypto core, so its errors are the same ones the `sft` command line prints.
 */
import { createReadStream } from 'node:fs';
import * as path from 'node:path';
import type { KeyObject } from 'node:crypto';
import * as vscode from 'vscode';
import { isSftError } from '../errors';
import { loadCrypto } from './core';
import { askNewPassphrase, askPassphrase } from './prompts';
import { reportError } from './report';

/** File name suffix of envelopes that Encrypt File… proposes and Decrypt File… removes. */
export const ENVELOPE_SUFFIX = '.sft';

/** What the tools need from the rest of the extension. */
export interface ToolsContext {
  log: vscode.LogOutputChannel;
  pbkdf2Iterations(): number;
}

/** Returns the local path of a file URI, or undefined after telling the user why not. */
function localPath(uri: vscode.Uri): string | undefined {
  if (uri.scheme !== 'file') {
    void vscode.window.showErrorMessage(
      vscode.l10n.t('{0} is not a file on disk. Secure File Transfer works with files on the machine where the extension runs.', uri.toString()),
    );
    return undefined;
  }
  return uri.fsPath;
}

async function pickInputFile(title: string, given: unknown): Promise<string | undefined> {
  if (given instanceof vscode.Uri) {
    return localPath(given);
  }
  const picked = await vscode.window.showOpenDialog({
    title,
    canSelectFiles: true,
    canSelectFolders: false,
    canSelectMany: false,
    defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
  });
  return picked?.[0] ? localPath(picked[0]) : undefined;
}

async function pickOutputFile(title: string, proposed: string): Promise<string | undefined> {
  const picked = await vscode.window.showSaveDialog({ title, defaultUri: vscode.Uri.file(proposed) });
  if (!picked) {
    return undefined;
  }
  await createChosenFolder(picked);
  return localPath(picked);
}

/**
 * Creates the folder of a path chosen in a save dialog. VS Code's own dialog (in the
 * browser, or with files.simpleDialog.enable) offers to create a missing folder but
 * leaves creating it to the caller. A failure is ignored here, because writing the
 * file then fails and reports it.
 */
export async function createChosenFolder(file: vscode.Uri): Promise<void> {
  await Promise.resolve(vscode.workspace.fs.createDirectory(vscode.Uri.joinPath(file, '..'))).catch(() => undefined);
}

// Generate RSA Key Pair…

/** Asks for a size, a passphrase and a folder, then writes private.pem and public.pem there. */
export async function generateKeyPairCommand(tools: ToolsContext): Promise<void> {
  const title = vscode.l10n.t('Generate RSA Key Pair');

  const sizes = [
    { label: '3072', description: vscode.l10n.t('Recommended'), bits: 3072 },
    { label: '4096', description: vscode.l10n.t('Slower to generate and to use'), bits: 4096 },
    { label: '2048', description: vscode.l10n.t('Smallest size accepted'), bits: 2048 },
  ];
  const size = await vscode.window.showQuickPick(sizes, { title, placeHolder: vscode.l10n.t('Key size in bits'), ignoreFocusOut: true });
  if (!size) {
    return;
  }

  const passphrase = await askNewPassphrase(title, vscode.l10n.t('Passphrase that encrypts the private key file'));
  if (passphrase === undefined) {
    return;
  }

  const folders = await vscode.window.showOpenDialog({
    title: vscode.l10n.t('Folder for private.pem and public.pem'),
    openLabel: vscode.l10n.t('Save Key Pair Here'),
    canSelectFiles: false,
    canSelectFolders: true,
    canSelectMany: false,
    defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
  });
  const folder = folders?.[0] ? localPath(folders[0]) : undefined;
  if (folder === undefined) {
    return;
  }

  try {
    const crypto = await loadCrypto();
    const written = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Generating a {0}-bit RSA key pair…', size.bits) },
      async () => {
        const pair = await crypto.generateKeyPair(passphrase, size.bits);
        const paths = await crypto.writeKeyPair(folder, pair);
        return { ...paths, fingerprint: pair.fingerprint };
      },
    );
    tools.log.info(`Generated a ${size.bits}-bit RSA key pair in ${folder}, fingerprint ${written.fingerprint}`);

    const copy = vscode.l10n.t('Copy Fingerprint');
    const open = vscode.l10n.t('Open Public Key');
    void vscode.window
      .showInformationMessage(
        vscode.l10n.t('Wrote {0} and {1}. Fingerprint: {2}', written.privatePath, written.publicPath, written.fingerprint),
        copy,
        open,
      )
      .then(async (choice) => {
        if (choice === copy) {
          await vscode.env.clipboard.writeText(written.fingerprint);
        } else if (choice === open) {
          await vscode.window.showTextDocument(vscode.Uri.file(written.publicPath));
        }
      });
  } catch (error) {
    reportError(tools.log, vscode.l10n.t('Generating the key pair failed'), error);
  }
}

// Encrypt File…

type EncryptMethod = 'passphrase' | 'rsa' | 'either' | 'both';

/** Asks how to encrypt `given` (or a picked file) and writes the envelope to a chosen path. */
export async function encryptFileCommand(tools: ToolsContext, given?: unknown): Promise<void> {
  const title = vscode.l10n.t('Encrypt File');
  const input = await pickInputFile(title, given);
  if (input === undefined) {
    return;
  }

  const methods: Array<vscode.QuickPickItem & { method: EncryptMethod }> = [
    { label: vscode.l10n.t('Passphrase'), detail: vscode.l10n.t('Anyone with the passphrase can decrypt.'), method: 'passphrase' },
    { label: vscode.l10n.t('RSA public keys'), detail: vscode.l10n.t('The owner of any of the matching private keys can decrypt.'), method: 'rsa' },
    {
      label: vscode.l10n.t('Passphrase or RSA public keys'),
      detail: vscode.l10n.t('Either the passphrase or one of the private keys decrypts.'),
      method: 'either',
    },
    {
      label: vscode.l10n.t('Passphrase and RSA public key together'),
      detail: vscode.l10n.t('Decrypting needs both the passphrase and the private key.'),
      method: 'both',
    },
  ];
  const choice = await vscode.window.showQuickPick(methods, { title, placeHolder: vscode.l10n.t('Who can decrypt the file?'), ignoreFocusOut: true });
  if (!choice) {
    return;
  }

  try {
    const crypto = await loadCrypto();

    let publicKeys: KeyObject[] = [];
    if (choice.method !== 'passphrase') {
      const keyFiles = await vscode.window.showOpenDialog({
        title: vscode.l10n.t('Recipient public keys (PEM)'),
        openLabel: vscode.l10n.t('Use These Keys'),
        canSelectFiles: true,
        canSelectFolders: false,
        canSelectMany: choice.method !== 'both',
        filters: { [vscode.l10n.t('PEM keys')]: ['pem', 'pub', 'key'], [vscode.l10n.t('All files')]: ['*'] },
      });
      if (!keyFiles || keyFiles.length === 0) {
        return;
      }
      publicKeys = [];
      for (const file of keyFiles) {
        const keyPath = localPath(file);
        if (keyPath === undefined) {
          return;
        }
        publicKeys.push(await crypto.loadPublicKey(keyPath));
      }
    }

    let passphrase: string | undefined;
    if (choice.method !== 'rsa') {
      passphrase = await askNewPassphrase(title, vscode.l10n.t('Passphrase for {0}', path.basename(input)));
      if (passphrase === undefined) {
        return;
      }
    }

    const output = await pickOutputFile(vscode.l10n.t('Save the encrypted file as'), input + ENVELOPE_SUFFIX);
    if (output === undefined) {
      return;
    }

    const iterations = tools.pbkdf2Iterations();
    const recipients: import('../crypto').Recipient[] = [];
    if (choice.method === 'both' && passphrase !== undefined) {
      recipients.push({ kind: 'passphrase+rsa', passphrase, publicKey: publicKeys[0], iterations });
    } else {
      if (passphrase !== undefined) {
        recipients.push({ kind: 'passphrase', passphrase, iterations });
      }
      for (const publicKey of publicKeys) {
        recipients.push({ kind: 'rsa', publicKey });
      }
    }

    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Encrypting {0}…', path.basename(input)) },
      () => crypto.encryptFile(input, output, recipients),
    );
    tools.log.info(`Encrypted ${input} to ${output} for ${recipients.map((r) => r.kind).join(', ')}`);
    void vscode.window.showInformationMessage(vscode.l10n.t('Encrypted {0} to {1}.', path.basename(input), output));
  } catch (error) {
    reportError(tools.log, vscode.l10n.t('Encrypting {0} failed', path.basename(input)), error);
  }
}

// Decrypt File…

/** Proposes the envelope's path without its suffix, or with `.decrypted` added. */
function decryptedPathFor(input: string): string {
  if (input.toLowerCase().endsWith(ENVELOPE_SUFFIX) && input.length > ENVELOPE_SUFFIX.length) {
    return input.slice(0, -ENVELOPE_SUFFIX.length);
  }
  return `${input}.decrypted`;
}

/** Loads a private key, asking for its passphrase when the key file is encrypted. */
async function askPrivateKey(title: string): Promise<KeyObject | undefined> {
  const crypto = await loadCrypto();
  const picked = await vscode.window.showOpenDialog({
    title: vscode.l10n.t('Your private key (PEM)'),
    openLabel: vscode.l10n.t('Use This Key'),
    canSelectFiles: true,
    canSelectFolders: false,
    canSelectMany: false,
    filters: { [vscode.l10n.t('PEM keys')]: ['pem', 'key'], [vscode.l10n.t('All files')]: ['*'] },
  });
  const keyPath = picked?.[0] ? localPath(picked[0]) : undefined;
  if (keyPath === undefined) {
    return undefined;
  }

  try {
    return await crypto.loadPrivateKey(keyPath);
  } catch (error) {
    if (!isSftError(error, 'KEY_PASSPHRASE_MISSING')) {
      throw error;
    }
  }
  const keyPassphrase = await askPassphrase(title, vscode.l10n.t('Passphrase of the private key {0}', path.basename(keyPath)));
  if (keyPassphrase === undefined) {
    return undefined;
  }
  return crypto.loadPrivateKey(keyPath, keyPassphrase);
}

/** Reads which stanzas `input` has, asks for the matching secrets and decrypts to a chosen path. */
export async function decryptFileCommand(tools: ToolsContext, given?: unknown): Promise<void> {
  const title = vscode.l10n.t('Decrypt File');
  const input = await pickInputFile(title, given);
  if (input === undefined) {
    return;
  }

  try {
    const crypto = await loadCrypto();
    const source = createReadStream(input);
    const header = await crypto.readHeader(source).finally(() => source.destroy());
    const types = new Set(header.stanzas.map((stanza) => stanza.type));

    const options: Array<vscode.QuickPickItem & { passphrase: boolean; key: boolean }> = [];
    if (types.has(crypto.StanzaType.passphrase) || types.has(crypto.StanzaType.sharedPassphrase)) {
      options.push({ label: vscode.l10n.t('Passphrase'), passphrase: true, key: false });
    }
    if (types.has(crypto.StanzaType.rsa)) {
      options.push({ label: vscode.l10n.t('RSA private key'), passphrase: false, key: true });
    }
    if (types.has(crypto.StanzaType.passphraseRsa) || types.has(crypto.StanzaType.sharedPassphraseRsa)) {
      options.push({ label: vscode.l10n.t('Passphrase and RSA private key'), passphrase: true, key: true });
    }
    const choice =
      options.length === 1
        ? options[0]
        : await vscode.window.showQuickPick(options, { title, placeHolder: vscode.l10n.t('How do you want to decrypt the file?'), ignoreFocusOut: true });
    if (!choice) {
      return;
    }

    const identities: import('../crypto').Identities = {};
    if (choice.key) {
      const privateKey = await askPrivateKey(title);
      if (!privateKey) {
        return;
      }
      identities.privateKeys = [privateKey];
    }
    if (choice.passphrase) {
      const passphrase = await askPassphrase(title, vscode.l10n.t('Passphrase for {0}', path.basename(input)));
      if (passphrase === undefined) {
        return;
      }
      identities.passphrase = passphrase;
    }

    const output = await pickOutputFile(vscode.l10n.t('Save the decrypted file as'), decryptedPathFor(input));
    if (output === undefined) {
      return;
    }

    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Decrypting {0}…', path.basename(input)) },
      () => crypto.decryptFile(input, output, identities),
    );
    tools.log.info(`Decrypted ${input} to ${output}`);
    void vscode.window.showInformationMessage(vscode.l10n.t('Decrypted {0} to {1}.', path.basename(input), output));
  } catch (error) {
    reportError(tools.log, vscode.l10n.t('Decrypting {0} failed', path.basename(input)), error);
  }
}
