/**
 * One window that is both receiver and sender. It starts its receiver and adds
 * an account. It sends files to itself from the Explorer: one file, a
 * selection with a folder, and a drop on a saved receiver. Then it downloads a
 * ZIP, cancels a large send and reloads. The journeys run in order and build
 * on each other.
 *
 * Every check that matters is made on disk as well: the store's index, the
 * accounts file, and the downloaded ZIP extracted by 7-Zip.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after } from 'node:test';
import { saveDocScreenshot } from '../artifacts';
import { journey, useSession } from '../harness';
import { command } from '../manifest';
import { waitUntil } from '../wait';
import type { Workbench } from '../workbench';
import {
  chooseInFileDialog,
  fillInputBox,
  resetWindow,
  chooseQuickPickItem,
  contextMenuOfSelection,
  dragExplorerRowToReceiver,
  fillLogin,
  fillTextField,
  loginWebview,
  moveMouseToEditor,
  openDownload,
  pseudoRandomBytes,
  readStoreIndex,
  RECEIVED_FILES_VIEW,
  receivedRow,
  receivedRows,
  RECEIVER_STATUS_ITEM,
  RECEIVERS_VIEW,
  receiverFingerprint,
  reloadWindowFromPalette,
  run7z,
  runExtensionCommand,
  sha256File,
  waitForTree,
} from './steps';

const ACCOUNT = { username: 'alice', password: 'correct horse battery staple' };

/** Files of the workspace, each with the size text the views show for it. */
const FILES = {
  report: { path: 'report.txt', content: pseudoRandomBytes(12_345, 'report'), size: '12.3 KB', passphrase: 'amber lantern orchard' },
  notes: { path: 'notes.txt', content: pseudoRandomBytes(2_000, 'notes'), size: '2.0 KB' },
  data: { path: 'data.bin', content: pseudoRandomBytes(70_000, 'data'), size: '70.0 KB' },
  beach: { path: 'photos/beach.jpg', content: pseudoRandomBytes(3_000, 'beach'), size: '3.0 KB' },
  city: { path: 'photos/2024/city.png', content: pseudoRandomBytes(4_500, 'city'), size: '4.5 KB' },
  dropped: { path: 'dropped.txt', content: pseudoRandomBytes(1_000, 'dropped'), size: '1.0 KB' },
};
const BATCH_PASSPHRASE = 'copper meadow river';
const DROP_PASSPHRASE = 'silver harbor kite';
const LARGE_PASSPHRASE = 'granite willow comet';
/** The large file: 300 MiB, created sparse, so that a send runs long enough to be cancelled. */
const LARGE_FILE = { path: 'large.bin', bytes: 300 * 1024 * 1024, size: '315 MB' };
/** Bytes a large send must have sent before it is cancelled, so the cut is midway. */
const CANCEL_AFTER_MB = 20;
/** Milliseconds a send of the large file may take. */
const LARGE_SEND_MS = 180_000;
/** Milliseconds for the first start, which creates the receiver's keys. */
const FIRST_START_MS = 60_000;

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sft-e2e-send-'));
const storeDir = path.join(workDir, 'store');
const downloadsDir = path.join(workDir, 'downloads');
fs.mkdirSync(downloadsDir);

const session = useSession({
  files: Object.fromEntries(Object.values(FILES).map((file) => [file.path, file.content])),
  // Port 0 lets the receiver pick a free port, so runs never collide; the
  // journeys read it from the status bar.
  machineSettings: {
    'secureFileTransfer.receiver.port': 0,
    'secureFileTransfer.receiver.storeDirectory': storeDir,
  },
});

after(() => fs.rmSync(workDir, { recursive: true, force: true }));

const sendTitle = () => command('secureFileTransfer.send').title;

/** Returns the port of the running receiver, from its status bar entry. */
async function receiverPort(workbench: Workbench): Promise<number> {
  const status = workbench.statusBarEntry(RECEIVER_STATUS_ITEM);
  await status.waitFor({ state: 'visible' });
  const text = await status.innerText();
  const match = /127\.0\.0\.1:(\d+)/.exec(text);
  assert.ok(match, `The receiver's status bar entry shows no 127.0.0.1:PORT: "${text}".`);
  return Number(match[1]);
}

journey('receiver starts and adds an account', session, async ({ workbench, page }) => {
  await resetWindow(workbench);

  await runExtensionCommand(workbench, 'secureFileTransfer.startReceiver');
  const status = workbench.statusBarEntry(RECEIVER_STATUS_ITEM);
  await status.waitFor({ state: 'visible', timeout: FIRST_START_MS });
  const port = await receiverPort(workbench);
  assert.notEqual(port, 0);
  assert.equal(await status.getAttribute('aria-label'), `Receiver listening on 127.0.0.1:${port}, 0 active transfers`);
  await workbench.waitForNotification(`The receiver is listening on 127.0.0.1:${port}.`);
  assert.match(await receiverFingerprint(port), /^SHA256:[A-Za-z0-9+/]{43}$/);
  assert.match(await workbench.viewWelcomeText(RECEIVED_FILES_VIEW), /The receiver is listening, and no files have arrived yet/);

  await runExtensionCommand(workbench, 'secureFileTransfer.manageAccounts');
  await chooseQuickPickItem(page, 'Add Account…');
  await fillInputBox(page, 'Username the sender logs in with', ACCOUNT.username);
  await fillInputBox(page, `Password for ${ACCOUNT.username}`, ACCOUNT.password);
  await fillInputBox(page, 'Type the password again', ACCOUNT.password);
  await workbench.waitForNotification(`Added the account ${ACCOUNT.username}.`);

  const accountsFile = fs.readFileSync(path.join(storeDir, 'accounts.json'), 'utf8');
  const accounts = (JSON.parse(accountsFile) as { accounts: { username: string }[] }).accounts;
  assert.deepEqual(accounts.map((account) => account.username), [ACCOUNT.username]);
  assert.ok(!accountsFile.includes(ACCOUNT.password), 'accounts.json contains the password in clear.');
});

journey('explorer file sends to receiver', session, async ({ workbench, page }) => {
  await resetWindow(workbench);
  const port = await receiverPort(workbench);
  const address = `127.0.0.1:${port}`;

  await workbench.contextMenu(FILES.report.path, sendTitle());
  await moveMouseToEditor(page);
  const login = await loginWebview(workbench);
  assert.deepEqual(await login.locator('#file-list li').allInnerTexts(), [FILES.report.path]);

  await fillLogin(login, { receiver: address, ...ACCOUNT, rememberPassword: true, passphrase: FILES.report.passphrase });
  assert.match(await login.locator('#passphrase-strength').innerText(), /^Strength: /);
  await saveDocScreenshot(page, 'login');
  await login.locator('#send-button').click();

  // A receiver seen for the first time: its fingerprint waits for a decision,
  // under the send's progress notification.
  await login.locator('#fingerprint-area').waitFor({ state: 'visible' });
  assert.equal(await login.locator('#fingerprint-address').innerText(), address);
  assert.equal((await login.locator('#fingerprint-value').innerText()).trim(), await receiverFingerprint(port));
  await workbench.waitForNotification(`Sending to ${address}`);
  await saveDocScreenshot(page, 'fingerprint');
  await login.locator('#fingerprint-accept').click();

  const summary = await workbench.waitForNotification(/^Sent 1 file/);
  assert.match(summary, new RegExp(`^Sent 1 file \\(${FILES.report.size}\\) to ${address.replace(/\./g, '\\.')} in `));
  await waitUntil(async () => !(await workbench.notifications()).some((text) => text.startsWith(`Sending to ${address}`)), {
    message: 'the progress notification to end',
  });

  const row = await waitForTree(workbench, RECEIVED_FILES_VIEW, (rows) => receivedRow(rows, FILES.report.path), 'report.txt in Received Files');
  assert.equal(row.sender, ACCOUNT.username);
  assert.match(row.description, new RegExp(`^${FILES.report.size} · `));

  const entries = readStoreIndex(storeDir);
  assert.equal(entries.length, 1);
  assert.equal(entries[0].senderUsername, ACCOUNT.username);
  assert.equal(entries[0].displayName, FILES.report.path);
  assert.equal(entries[0].plaintextSize, FILES.report.content.length);

  const receivers = await waitForTree(workbench, RECEIVERS_VIEW, (rows) => rows.find((r) => r.label === address), 'the receiver in Receivers');
  assert.match(receivers.description, new RegExp(`^${ACCOUNT.username} · SHA256:`));
});

journey('selection with folder keeps structure', session, async ({ workbench, page }) => {
  await resetWindow(workbench);
  const port = await receiverPort(workbench);

  await contextMenuOfSelection(workbench, [FILES.notes.path, FILES.data.path, 'photos'], sendTitle());
  await moveMouseToEditor(page);
  const login = await loginWebview(workbench);
  assert.deepEqual(await login.locator('#file-list li').allInnerTexts(), [FILES.notes.path, FILES.data.path, 'photos']);

  // The form remembers the last receiver and account, and the password was kept.
  assert.equal(await login.locator('#receiver input').inputValue(), `127.0.0.1:${port}`);
  assert.equal(await login.locator('#username input').inputValue(), ACCOUNT.username);
  assert.equal(await login.locator('#password input').getAttribute('placeholder'), 'Remembered; leave empty to use it');
  await fillLogin(login, { passphrase: BATCH_PASSPHRASE });
  await login.locator('#send-button').click();

  const summary = await workbench.waitForNotification(/^Sent \d+ files/);
  assert.match(summary, /^Sent 4 files \(79\.5 KB\)/);

  const sent = [FILES.notes, FILES.data, FILES.beach, FILES.city];
  const rows = await waitForTree(
    workbench,
    RECEIVED_FILES_VIEW,
    (tree) => sent.every((file) => receivedRow(tree, file.path)) && receivedRows(tree),
    'the four files in Received Files',
  );
  for (const file of sent) {
    const row = rows.find((candidate) => candidate.label === file.path);
    assert.equal(row?.sender, ACCOUNT.username, `${file.path} is not under ${ACCOUNT.username}`);
    assert.match(row?.description ?? '', new RegExp(`^${file.size} · `), `${file.path} shows the wrong size`);
  }
  await workbench.runCommand('View: Close All Editors');
  await workbench.openViewContainer();
  await saveDocScreenshot(page, 'received-files');

  const entries = readStoreIndex(storeDir);
  const byPath = (relativePath: string) => entries.find((entry) => entry.relativePath === relativePath);
  assert.equal(byPath(FILES.beach.path)?.displayName, 'beach.jpg');
  assert.equal(byPath(FILES.city.path)?.displayName, 'city.png');
  assert.equal(byPath(FILES.city.path)?.plaintextSize, FILES.city.content.length);
  assert.equal(entries.filter((entry) => entry.displayName === FILES.data.path && entry.relativePath === '').length, 1);
});

journey('drop on saved receiver sends', session, async ({ workbench, page }) => {
  await resetWindow(workbench);
  const port = await receiverPort(workbench);
  const address = `127.0.0.1:${port}`;

  await dragExplorerRowToReceiver(workbench, FILES.dropped.path, address);
  await moveMouseToEditor(page);
  const login = await loginWebview(workbench);
  assert.deepEqual(await login.locator('#file-list li').allInnerTexts(), [FILES.dropped.path]);
  assert.equal(await login.locator('#receiver input').inputValue(), address);
  assert.notEqual(await login.locator('#receiver').getAttribute('disabled'), null, 'the receiver field of a dropped send is not locked');

  // Only the passphrase is left to type: the password was remembered.
  await fillLogin(login, { passphrase: DROP_PASSPHRASE });
  await login.locator('#send-button').click();

  const summary = await workbench.waitForNotification(/^Sent 1 file/);
  assert.match(summary, new RegExp(`^Sent 1 file \\(${FILES.dropped.size}\\)`));
  const row = await waitForTree(workbench, RECEIVED_FILES_VIEW, (rows) => receivedRow(rows, FILES.dropped.path), 'dropped.txt in Received Files');
  assert.equal(row.sender, ACCOUNT.username);
  const entry = readStoreIndex(storeDir).find((candidate) => candidate.displayName === FILES.dropped.path);
  assert.equal(entry?.plaintextSize, FILES.dropped.content.length);
});

journey('download writes password ZIP', session, async ({ workbench, page, workspace }) => {
  await resetWindow(workbench);
  // A folder that does not exist yet: the save dialog offers to create it.
  const zipPath = path.join(downloadsDir, 'zips', 'report.zip');
  const zipPassword = 'Zip-Pass 2024!';

  const form = await openDownload(workbench, FILES.report.path);
  assert.equal(await form.locator('#entry-size').innerText(), FILES.report.size);
  assert.equal(await form.locator('#entry-sender').innerText(), `${ACCOUNT.username} (127.0.0.1)`);
  await fillTextField(form, 'passphrase', FILES.report.passphrase);
  await fillTextField(form, 'zip-password', zipPassword);
  await fillTextField(form, 'zip-password-confirm', zipPassword);
  await saveDocScreenshot(page, 'download');
  await form.locator('#download-button').click();

  const dialog = await chooseInFileDialog(page, zipPath);
  assert.equal(dialog.title, `Save ${FILES.report.path} as a password-protected ZIP`);
  await workbench.waitForNotification(`Saved ${zipPath}`);

  const listing = run7z(['l', '-slt', zipPath], zipPassword);
  assert.equal(listing.status, 0, listing.output);
  assert.match(listing.output, /^Encrypted = \+$/m);
  assert.match(listing.output, /^Method = AES-256/m);

  const extracted = path.join(downloadsDir, 'extracted');
  const extraction = run7z(['x', '-y', `-o${extracted}`, zipPath], zipPassword);
  assert.equal(extraction.status, 0, extraction.output);
  assert.deepEqual(fs.readdirSync(extracted), [FILES.report.path]);
  assert.equal(sha256File(path.join(extracted, FILES.report.path)), sha256File(path.join(workspace, FILES.report.path)));

  const wrong = run7z(['t', zipPath], 'not the zip password');
  assert.notEqual(wrong.status, 0, '7-Zip opened the ZIP with a wrong password');
});

journey('wrong passphrase writes nothing', session, async ({ workbench, page }) => {
  await resetWindow(workbench);
  const downloadsBefore = fs.readdirSync(downloadsDir).sort();
  const proposed = [path.join(os.homedir(), `${FILES.data.path}.zip`), path.join(os.homedir(), 'Downloads', `${FILES.data.path}.zip`)];
  const proposedBefore = proposed.map((file) => fs.existsSync(file));

  const form = await openDownload(workbench, FILES.data.path);
  await form.locator('#use-passphrase').click();
  await form.locator('#zip-password-fields').waitFor({ state: 'hidden' });

  for (const attemptsLeft of [4, 3]) {
    await fillTextField(form, 'passphrase', 'not the passphrase');
    await form.locator('#download-button').click();
    await form.locator('#attempts-left', { hasText: `Attempts left: ${attemptsLeft}` }).waitFor({ state: 'visible' });
    assert.equal(await form.locator('#passphrase-error').innerText(), 'Wrong passphrase for this file.');
  }

  // The passphrase is checked before the save dialog, so none opened.
  assert.equal(await page.locator('.quick-input-widget').isVisible(), false);
  assert.deepEqual(fs.readdirSync(downloadsDir).sort(), downloadsBefore);
  assert.deepEqual(proposed.map((file) => fs.existsSync(file)), proposedBefore);

  await form.locator('#cancel-button').click();
});

journey('cancelled large send is not listed', session, async ({ workbench, page, workspace }) => {
  await resetWindow(workbench);
  const port = await receiverPort(workbench);
  const address = `127.0.0.1:${port}`;
  const largePath = path.join(workspace, LARGE_FILE.path);
  const handle = fs.openSync(largePath, 'w');
  fs.ftruncateSync(handle, LARGE_FILE.bytes);
  fs.closeSync(handle);

  const sendLarge = async () => {
    await workbench.contextMenu(LARGE_FILE.path, sendTitle());
    await moveMouseToEditor(page);
    const login = await loginWebview(workbench);
    await fillLogin(login, { passphrase: LARGE_PASSPHRASE });
    await login.locator('#send-button').click();
  };
  const largeEntries = () => readStoreIndex(storeDir).filter((entry) => entry.displayName === LARGE_FILE.path);

  await sendLarge();
  await workbench.openViewContainer();
  const toast = page.locator('.notification-toast', { hasText: `Sending to ${address}` });
  const sentMb = await waitUntil(async () => {
    const match = /large\.bin, ([\d.]+) MB of 315 MB/.exec(await toast.innerText().catch(() => ''));
    return match && Number(match[1]) >= CANCEL_AFTER_MB && Number(match[1]);
  }, { timeout: LARGE_SEND_MS, message: `the progress notification to pass ${CANCEL_AFTER_MB} MB` });
  // The Explorer's click opened large.bin in an editor; the login webview closed after the login.
  await workbench.runCommand('View: Close All Editors');
  const upload = await waitForTree(workbench, RECEIVED_FILES_VIEW, (rows) => receivedRow(rows, LARGE_FILE.path), 'the upload in Received Files');
  assert.match(upload.description, /^receiving \d+% /);
  await saveDocScreenshot(page, 'send-progress');

  await toast.locator('.monaco-button', { hasText: 'Cancel' }).click();
  const cancelled = await workbench.waitForNotification(/was cancelled/);
  assert.match(cancelled, new RegExp(`^Sending to ${address.replace(/\./g, '\\.')} was cancelled after 0 files\\.`));
  assert.ok(sentMb < 300, `The send was nearly done (${sentMb} MB) when it was cancelled.`);

  await waitForTree(workbench, RECEIVED_FILES_VIEW, (rows) => !receivedRow(rows, LARGE_FILE.path), 'the cancelled upload to leave Received Files');
  assert.deepEqual(largeEntries(), []);

  await resetWindow(workbench);
  await sendLarge();
  const summary = await workbench.waitForNotification(/^Sent 1 file/, LARGE_SEND_MS);
  assert.match(summary, new RegExp(`^Sent 1 file \\(${LARGE_FILE.size}\\)`));
  const row = await waitForTree(
    workbench,
    RECEIVED_FILES_VIEW,
    (rows) => receivedRow(rows, LARGE_FILE.path)?.description.startsWith(`${LARGE_FILE.size} · `),
    'large.bin received in Received Files',
  );
  assert.ok(row);
  assert.deepEqual(largeEntries().map((entry) => entry.plaintextSize), [LARGE_FILE.bytes]);
}, { timeout: 2 * LARGE_SEND_MS });

journey('reload keeps received files listed', session, async ({ workbench }) => {
  await resetWindow(workbench);
  const storedCount = readStoreIndex(storeDir).length;
  const before = await waitForTree(
    workbench,
    RECEIVED_FILES_VIEW,
    (rows) => receivedRows(rows).length === storedCount && rows,
    `Received Files to list the ${storedCount} stored files`,
  );
  assert.ok(storedCount > 0, 'The journeys before stored no files, so a reload has nothing to keep.');

  await reloadWindowFromPalette(workbench);

  await waitForTree(
    workbench,
    RECEIVED_FILES_VIEW,
    (rows) => JSON.stringify(rows) === JSON.stringify(before),
    'Received Files to list the same rows after the reload',
  );
  // The receiver stopped with the old extension host, so the list came from disk.
  assert.equal(await workbench.statusBarEntry(RECEIVER_STATUS_ITEM).isVisible(), false);
});
