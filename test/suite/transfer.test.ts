/**
 * The extension's own flows inside a real extension host: the receiver, a send through
 * the send command's code path, the Received Files tree, downloads as AES-256 ZIPs that
 * 7-Zip opens, and where secrets must not end up.
 *
 * The flows run through the test API that activate() returns, so no webview or dialog
 * has to be driven. The journeys through the real UI live in test/e2e.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import * as vscode from 'vscode';
import type { SecureFileTransferTestApi } from '../../src/extension';
import type { TreeRow } from '../../src/commands/testApi';

const EXTENSION_ID = 'secure-file-transfer.secure-file-transfer';
const USERNAME = 'alice';
const PASSWORD = 'account-password-7f3a';
const PASSPHRASE = 'sender-passphrase-91c2';
const ZIP_PASSWORD = 'zip-password-5d8e';
/** Large enough that an upload stays in flight for several polls of the tree. */
const LARGE_FILE_BYTES = 48 * 1024 * 1024;

async function testApi(): Promise<SecureFileTransferTestApi> {
  const extension = vscode.extensions.getExtension<SecureFileTransferTestApi>(EXTENSION_ID);
  assert.ok(extension, `Extension ${EXTENSION_ID} is not loaded.`);
  return extension.activate();
}

async function setSetting(key: string, value: unknown): Promise<void> {
  await vscode.workspace.getConfiguration('secureFileTransfer').update(key, value, vscode.ConfigurationTarget.Global);
}

/** Returns the 7-Zip program installed here: `7z` (p7zip) or `7zz` (7-Zip). */
function sevenZip(): string {
  for (const candidate of ['7z', '7zz']) {
    if (spawnSync(candidate, ['i'], { stdio: 'ignore' }).status === 0) {
      return candidate;
    }
  }
  throw new Error('Neither 7z nor 7zz is installed; install Debian\'s 7zip or p7zip-full.');
}

/** Connects with TLS and returns the receiver fingerprint of the certificate presented. */
function presentedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, minVersion: 'TLSv1.3' }, () => {
      const der = socket.getPeerCertificate().raw;
      socket.destroy();
      resolve(`SHA256:${crypto.createHash('sha256').update(der).digest('base64').replace(/=+$/, '')}`);
    });
    socket.once('error', reject);
  });
}

function connectionRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

function entryRows(tree: TreeRow[], sender: string): TreeRow[] {
  return tree.find((row) => row.kind === 'sender' && row.label === sender)?.children.filter((row) => row.kind === 'entry') ?? [];
}

suite('Secure File Transfer flows', () => {
  let api: SecureFileTransferTestApi;
  let workDir: string;
  let filesDir: string;

  suiteSetup(async () => {
    api = await testApi();
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sft-suite-'));
    filesDir = path.join(workDir, 'files');
    fs.mkdirSync(path.join(filesDir, 'folder', 'sub'), { recursive: true });
    fs.writeFileSync(path.join(filesDir, 'note.txt'), 'a short note\n');
    fs.writeFileSync(path.join(filesDir, 'folder', 'data.bin'), crypto.randomBytes(200_000));
    fs.writeFileSync(path.join(filesDir, 'folder', 'sub', 'deep.txt'), 'deep inside\n');

    await setSetting('receiver.storeDirectory', path.join(workDir, 'store'));
    await setSetting('receiver.port', 0);
    await setSetting('receiver.askBeforeAccepting', false);
  });

  suiteTeardown(async () => {
    await api?.stopReceiver(false);
    for (const key of ['receiver.storeDirectory', 'receiver.port', 'receiver.askBeforeAccepting']) {
      await setSetting(key, undefined);
    }
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  test('item-only commands hidden from the palette', () => {
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    const palette: Array<{ command: string; when?: string }> = extension?.packageJSON.contributes.menus.commandPalette ?? [];

    for (const command of ['download', 'delete', 'sendToReceiver']) {
      const entry = palette.find((item) => item.command === `secureFileTransfer.${command}`);
      assert.equal(entry?.when, 'false', `${command} should be hidden from the command palette`);
    }
  });

  test('receiver starts and stops', async () => {
    const info = await api.startReceiver();

    assert.ok(info.port > 0, 'the receiver should listen on a port');
    assert.equal(info.host, '127.0.0.1');
    assert.equal(info.link, `sft://127.0.0.1:${info.port}#${info.fingerprint}`);
    assert.equal(await presentedFingerprint(info.port), info.fingerprint);
    assert.equal(api.storeDirectory(), path.join(workDir, 'store'));

    await api.stopReceiver();

    assert.equal(api.receiverInfo(), undefined);
    assert.equal(await connectionRefused(info.port), true, 'the port should be closed after stop');
  });

  test('start and stop commands run the receiver', async () => {
    await vscode.commands.executeCommand('secureFileTransfer.startReceiver');
    const info = api.receiverInfo();
    assert.ok(info, 'Start Receiver should leave the receiver running');

    await vscode.commands.executeCommand('secureFileTransfer.stopReceiver');
    assert.equal(api.receiverInfo(), undefined, 'Stop Receiver should stop it');
  });

  test('fingerprint stays the same across restarts', async () => {
    const first = await api.startReceiver();
    await api.stopReceiver();
    const second = await api.startReceiver();

    assert.equal(second.fingerprint, first.fingerprint);
  });

  test('sent file reaches the Received Files tree', async () => {
    const info = await api.startReceiver();
    await api.addAccount(USERNAME, PASSWORD);

    const summary = await api.send({
      to: info.link,
      username: USERNAME,
      password: PASSWORD,
      passphrase: PASSPHRASE,
      paths: [path.join(filesDir, 'note.txt')],
    });

    assert.equal(summary.error, undefined, `the send failed: ${summary.error?.message}`);
    assert.equal(summary.delivered.length, 1);
    const rows = entryRows(await api.receivedFilesTree(), USERNAME);
    const note = rows.find((row) => row.label === 'note.txt');
    assert.ok(note, `note.txt should be listed under ${USERNAME}; rows: ${rows.map((row) => row.label).join(', ')}`);
    assert.match(note.description, /^13 B · /);
    assert.ok(note.tooltip.includes(note.entry?.sha256 ?? 'missing'), 'the tooltip should show the SHA-256');
    assert.ok(note.tooltip.includes('127.0.0.1'), 'the tooltip should show the sender address');
    assert.equal(note.entry?.plaintextSize, 13);
  });

  test('sent folder keeps its structure', async () => {
    const info = await api.startReceiver();

    const summary = await api.send({
      to: info.link,
      username: USERNAME,
      password: PASSWORD,
      passphrase: PASSPHRASE,
      paths: [path.join(filesDir, 'folder')],
    });

    assert.equal(summary.error, undefined, `the send failed: ${summary.error?.message}`);
    assert.equal(summary.delivered.length, 2);
    const labels = entryRows(await api.receivedFilesTree(), USERNAME).map((row) => row.label);
    assert.ok(labels.includes('folder/data.bin'), `labels: ${labels.join(', ')}`);
    assert.ok(labels.includes('folder/sub/deep.txt'), `labels: ${labels.join(', ')}`);
  });

  test('upload in flight shows in the tree', async () => {
    const info = await api.startReceiver();
    const large = path.join(workDir, 'large-1.bin');
    fs.writeFileSync(large, crypto.randomBytes(LARGE_FILE_BYTES));
    const uploadsSeen: TreeRow[] = [];

    const sending = api.send({ to: info.link, username: USERNAME, password: PASSWORD, passphrase: PASSPHRASE, paths: [large] });
    let done = false;
    void sending.finally(() => (done = true));
    while (!done) {
      const tree = await api.receivedFilesTree();
      uploadsSeen.push(...tree.flatMap((row) => row.children.filter((child) => child.kind === 'upload')));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const summary = await sending;

    assert.equal(summary.error, undefined, `the send failed: ${summary.error?.message}`);
    assert.ok(uploadsSeen.length > 0, 'the tree should show the upload while it runs');
    assert.equal(uploadsSeen[0].label, 'large-1.bin');
    assert.match(uploadsSeen[0].description, /^receiving \d+% /);
    const after = await api.receivedFilesTree();
    assert.equal(after.flatMap((row) => row.children).filter((child) => child.kind === 'upload').length, 0, 'no upload row may remain');
    assert.ok(entryRows(after, USERNAME).some((row) => row.label === 'large-1.bin'));
  });

  test('cancelled send is never listed', async () => {
    const info = await api.startReceiver();
    const large = path.join(workDir, 'large-2.bin');
    fs.writeFileSync(large, crypto.randomBytes(LARGE_FILE_BYTES));
    const cancel = new AbortController();

    const sending = api.send(
      { to: info.link, username: USERNAME, password: PASSWORD, passphrase: PASSPHRASE, paths: [large] },
      { signal: cancel.signal },
    );
    let done = false;
    void sending.finally(() => (done = true));
    while (!done) {
      const tree = await api.receivedFilesTree();
      if (tree.some((row) => row.children.some((child) => child.kind === 'upload' && child.label === 'large-2.bin'))) {
        cancel.abort();
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const summary = await sending;

    assert.equal(summary.cancelled, true, `the send should be cancelled: ${JSON.stringify(summary.error)}`);
    assert.equal(summary.delivered.length, 0);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const tree = await api.receivedFilesTree();
    assert.equal(entryRows(tree, USERNAME).some((row) => row.label === 'large-2.bin'), false, 'a cancelled file may not be listed');
  });

  test('send after a cancel completes', async () => {
    const info = await api.startReceiver();

    const summary = await api.send({
      to: info.link,
      username: USERNAME,
      password: PASSWORD,
      passphrase: PASSPHRASE,
      paths: [path.join(workDir, 'large-2.bin')],
    });

    assert.equal(summary.error, undefined, `the send failed: ${summary.error?.message}`);
    assert.equal(summary.delivered.length, 1);
    const rows = entryRows(await api.receivedFilesTree(), USERNAME).filter((row) => row.label === 'large-2.bin');
    assert.equal(rows.length, 1);
    assert.equal(rows[0].entry?.plaintextSize, LARGE_FILE_BYTES);
  });

  test('receiver is saved after a send', async () => {
    const info = await api.startReceiver();

    const saved = api.savedReceivers().find((item) => item.address === `127.0.0.1:${info.port}`);

    assert.ok(saved, 'the receiver should be in the Receivers view');
    assert.equal(saved.username, USERNAME);
    assert.equal(saved.fingerprint, info.fingerprint);
  });

  test('wrong login password sends nothing', async () => {
    const info = await api.startReceiver();
    const before = entryRows(await api.receivedFilesTree(), USERNAME).length;

    const summary = await api.send({
      to: info.link,
      username: USERNAME,
      password: 'not-the-password',
      passphrase: PASSPHRASE,
      paths: [path.join(filesDir, 'note.txt')],
    });

    assert.equal(summary.error?.code, 'LOGIN_FAILED');
    assert.equal(summary.failedBeforeLogin, true);
    assert.equal(summary.delivered.length, 0);
    assert.equal(entryRows(await api.receivedFilesTree(), USERNAME).length, before);
  });

  test('download writes a ZIP that 7z opens', async () => {
    const note = entryRows(await api.receivedFilesTree(), USERNAME).find((row) => row.label === 'note.txt');
    assert.ok(note?.entry);
    const target = path.join(workDir, 'downloads', 'note.zip');
    fs.mkdirSync(path.dirname(target), { recursive: true });

    const outcome = await api.download(
      note.entry.id,
      { passphrase: PASSPHRASE, zipPassword: ZIP_PASSWORD, zipPasswordConfirm: ZIP_PASSWORD, usePassphrase: false },
      target,
    );

    assert.equal(outcome.kind, 'written', JSON.stringify(outcome));
    const extracted = path.join(workDir, 'extracted');
    const result = spawnSync(sevenZip(), ['x', `-p${ZIP_PASSWORD}`, `-o${extracted}`, '-y', target], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.deepEqual(fs.readFileSync(path.join(extracted, 'note.txt')), fs.readFileSync(path.join(filesDir, 'note.txt')));
  });

  test('download of a folder file keeps its path', async () => {
    const data = entryRows(await api.receivedFilesTree(), USERNAME).find((row) => row.label === 'folder/data.bin');
    assert.ok(data?.entry);
    const target = path.join(workDir, 'downloads', 'data.zip');

    const outcome = await api.download(data.entry.id, { passphrase: PASSPHRASE, zipPassword: '', zipPasswordConfirm: '', usePassphrase: true }, target);

    assert.equal(outcome.kind, 'written', JSON.stringify(outcome));
    const extracted = path.join(workDir, 'extracted-data');
    const result = spawnSync(sevenZip(), ['x', `-p${PASSPHRASE}`, `-o${extracted}`, '-y', target], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.deepEqual(fs.readFileSync(path.join(extracted, 'folder', 'data.bin')), fs.readFileSync(path.join(filesDir, 'folder', 'data.bin')));
  });

  test('wrong passphrase writes nothing', async () => {
    const note = entryRows(await api.receivedFilesTree(), USERNAME).find((row) => row.label === 'note.txt');
    assert.ok(note?.entry);
    const folder = path.join(workDir, 'wrong-passphrase');
    fs.mkdirSync(folder);

    const outcome = await api.download(
      note.entry.id,
      { passphrase: 'not-the-passphrase', zipPassword: ZIP_PASSWORD, zipPasswordConfirm: ZIP_PASSWORD, usePassphrase: false },
      path.join(folder, 'note.zip'),
    );

    assert.equal(outcome.kind, 'wrongPassphrase', JSON.stringify(outcome));
    assert.equal(outcome.kind === 'wrongPassphrase' && outcome.attemptsLeft, 4);
    assert.deepEqual(fs.readdirSync(folder), [], 'nothing may be written for a wrong passphrase');
  });

  test('mismatched ZIP passwords are rejected', async () => {
    const note = entryRows(await api.receivedFilesTree(), USERNAME).find((row) => row.label === 'note.txt');
    assert.ok(note?.entry);
    const target = path.join(workDir, 'downloads', 'mismatch.zip');

    const outcome = await api.download(note.entry.id, { passphrase: PASSPHRASE, zipPassword: 'one-password', zipPasswordConfirm: 'other-password', usePassphrase: false }, target);

    assert.deepEqual(outcome.kind === 'invalid' && outcome.field, 'zipPasswordConfirm');
    assert.equal(fs.existsSync(target), false);
  });

  test('entries are listed while the receiver is stopped', async () => {
    const running = (await api.receivedFilesTree()).map((row) => row.children.map((child) => child.entry?.id));

    await api.stopReceiver();
    const stopped = (await api.receivedFilesTree()).map((row) => row.children.map((child) => child.entry?.id));

    assert.ok(running.flat().length >= 3);
    assert.deepEqual(stopped, running);
  });

  test('delete removes the entry', async () => {
    const note = entryRows(await api.receivedFilesTree(), USERNAME).find((row) => row.label === 'note.txt');
    assert.ok(note?.entry);

    await api.deleteEntry(note.entry.id);

    const labels = entryRows(await api.receivedFilesTree(), USERNAME).map((row) => row.label);
    assert.equal(labels.includes('note.txt'), false);
  });

  test('secrets absent from settings, globalState and logs', async () => {
    const secrets = [PASSWORD, PASSPHRASE, ZIP_PASSWORD, 'PRIVATE KEY'];

    const state = JSON.stringify(api.globalStateSnapshot());
    const config = vscode.workspace.getConfiguration('secureFileTransfer');
    const settings = JSON.stringify(
      ['receiver.host', 'receiver.port', 'receiver.storeDirectory', 'receiver.autoStart', 'receiver.askBeforeAccepting', 'encryption.pbkdf2Iterations'].map(
        (key) => config.inspect(key),
      ),
    );
    const logs = fs.existsSync(api.logDirectory())
      ? fs.readdirSync(api.logDirectory()).map((name) => fs.readFileSync(path.join(api.logDirectory(), name), 'utf8')).join('\n')
      : '';

    assert.ok(state.includes(USERNAME), 'globalState should hold the saved receiver, or this check proves nothing');
    assert.ok(logs.includes('Receiver listening'), `the log in ${api.logDirectory()} should hold the receiver's lines, or this check proves nothing`);
    for (const secret of secrets) {
      assert.equal(state.includes(secret), false, `globalState contains "${secret}"`);
      assert.equal(settings.includes(secret), false, `settings contain "${secret}"`);
      assert.equal(logs.includes(secret), false, `the log contains "${secret}"`);
    }
  });
});
