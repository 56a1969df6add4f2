/**
 * Sends that must not happen: a wrong password, and a receiver whose
 * certificate changed since the last send. The receivers are `sft receive`
 * processes on 127.0.0.1, so the journeys can read their logs and stores.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after } from 'node:test';
import { journey, useSession } from '../harness';
import { command } from '../manifest';
import { waitUntil } from '../wait';
import {
  addAccountWithCli,
  resetWindow,
  fillLogin,
  listStoreFolder,
  loginWebview,
  moveMouseToEditor,
  readStoreIndex,
  RECEIVERS_VIEW,
  SftReceiveProcess,
  waitForTree,
} from './steps';

const PASSPHRASE = 'maple thunder lagoon';

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sft-e2e-refused-'));
const receivers: SftReceiveProcess[] = [];

const session = useSession({
  files: {
    'invoice.pdf': 'An invoice that must not leave with a wrong password.\n',
    'contract.txt': 'A contract for the receiver that was there before.\n',
  },
});

after(async () => {
  for (const receiver of receivers) await receiver.stop();
  fs.rmSync(workDir, { recursive: true, force: true });
});

async function startReceiver(name: string, port = 0): Promise<SftReceiveProcess> {
  const receiver = await SftReceiveProcess.start(path.join(workDir, name), port);
  receivers.push(receiver);
  return receiver;
}

/** Asserts that a store contains no file: no entry, no envelope, no partial upload. */
function assertStoreEmpty(receiver: SftReceiveProcess): void {
  assert.deepEqual(readStoreIndex(receiver.storeDir), []);
  assert.deepEqual(listStoreFolder(receiver.storeDir, 'files'), []);
  assert.deepEqual(listStoreFolder(receiver.storeDir, 'partial'), []);
}

const sendTitle = () => command('secureFileTransfer.send').title;

journey('wrong password sends nothing', session, async ({ workbench, page }) => {
  await resetWindow(workbench);
  addAccountWithCli(path.join(workDir, 'wrong-password'), 'bob', 'the right password');
  const receiver = await startReceiver('wrong-password');

  await workbench.contextMenu('invoice.pdf', sendTitle());
  await moveMouseToEditor(page);
  const login = await loginWebview(workbench);
  await fillLogin(login, { receiver: receiver.address, username: 'bob', password: 'a wrong password', passphrase: PASSPHRASE });
  await login.locator('#send-button').click();

  await login.locator('#fingerprint-area').waitFor({ state: 'visible' });
  assert.equal((await login.locator('#fingerprint-value').innerText()).trim(), receiver.fingerprint);
  await login.locator('#fingerprint-accept').click();

  const error = login.locator('#password-error');
  await error.filter({ hasText: /./ }).waitFor({ state: 'visible' });
  assert.equal(await error.innerText(), `Receiver ${receiver.address} rejected the username or password.`);
  assert.equal(await login.locator('#send-button').getAttribute('disabled'), null, 'the form stays disabled after the error');

  assert.match(receiver.log(), /Login failed for user "bob"/);
  assert.doesNotMatch(receiver.log(), /logged in/);
  assertStoreEmpty(receiver);
  assert.ok(!(await workbench.notifications()).some((text) => text.startsWith('Sent ')), 'a send summary appeared');
  const saved = await workbench.readTreeView(RECEIVERS_VIEW);
  assert.ok(!saved.some((row) => row.label === receiver.address), 'a receiver that rejected the login was saved');

  await login.locator('#cancel-button').click();
});

journey('changed certificate stops before login', session, async ({ workbench, page }) => {
  await resetWindow(workbench);
  const account = { username: 'carol', password: 'carols password' };
  addAccountWithCli(path.join(workDir, 'original'), account.username, account.password);
  const original = await startReceiver('original');

  // A first send pins the receiver's fingerprint.
  await workbench.contextMenu('contract.txt', sendTitle());
  await moveMouseToEditor(page);
  let login = await loginWebview(workbench);
  await fillLogin(login, { receiver: original.address, ...account, passphrase: PASSPHRASE });
  await login.locator('#send-button').click();
  await login.locator('#fingerprint-accept').click();
  await workbench.waitForNotification(/^Sent 1 file/);
  assert.equal(readStoreIndex(original.storeDir).length, 1);
  await waitForTree(workbench, RECEIVERS_VIEW, (rows) => rows.some((row) => row.label === original.address), 'the receiver in Receivers');

  // Another receiver, with its own keys, takes over the same address. It has
  // the same account, so a password that reached it would log in.
  await original.stop();
  addAccountWithCli(path.join(workDir, 'impostor'), account.username, account.password);
  const impostor = await startReceiver('impostor', original.port);
  assert.notEqual(impostor.fingerprint, original.fingerprint);

  await resetWindow(workbench);
  await workbench.contextMenu('contract.txt', sendTitle());
  await moveMouseToEditor(page);
  login = await loginWebview(workbench);
  await fillLogin(login, { receiver: original.address, ...account, passphrase: PASSPHRASE });
  await login.locator('#send-button').click();

  const warning = login.locator('#fingerprint-changed');
  await warning.waitFor({ state: 'visible' });
  const explanation = await login.locator('#fingerprint-changed-text').innerText();
  assert.ok(explanation.includes(original.fingerprint), `The warning does not name the trusted fingerprint: ${explanation}`);
  assert.match(explanation, /Forget Receiver/);
  assert.doesNotMatch(explanation, /--trust/);
  await workbench.waitForNotification(
    `Receiver ${original.address} presented a different certificate than before. Nothing was sent, and no password left this machine.`,
  );
  assert.equal(await login.locator('#fingerprint-area').isVisible(), false, 'the changed receiver was offered for trust');

  // The sender reached the impostor and hung up during the TLS handshake, so
  // no login message (which carries the password) was ever sent.
  await waitUntil(() => /TLS handshake with .* failed|Connection \d+ from 127\.0\.0\.1/.test(impostor.log()), {
    message: 'the impostor to log the connection attempt',
  });
  assert.doesNotMatch(impostor.log(), /logged in|Login failed/);
  assertStoreEmpty(impostor);

  // Once the owner confirms the new identity, forgetting the receiver lets
  // the next send trust it.
  await login.locator('#cancel-button').click();
  const savedRow = await workbench.treeRow(RECEIVERS_VIEW, original.address);
  await savedRow.click({ button: 'right' });
  await workbench.clickMenuItem(command('secureFileTransfer.forgetReceiver').title);
  await waitForTree(workbench, RECEIVERS_VIEW, (rows) => !rows.some((row) => row.label === original.address), 'the forgotten receiver to leave Receivers');

  await workbench.contextMenu('contract.txt', sendTitle());
  await moveMouseToEditor(page);
  login = await loginWebview(workbench);
  await fillLogin(login, { receiver: original.address, ...account, passphrase: PASSPHRASE });
  await login.locator('#send-button').click();
  await login.locator('#fingerprint-area').waitFor({ state: 'visible' });
  assert.equal((await login.locator('#fingerprint-value').innerText()).trim(), impostor.fingerprint);
  await login.locator('#fingerprint-accept').click();
  await workbench.waitForNotification(/^Sent 1 file/);
  assert.equal(readStoreIndex(impostor.storeDir).length, 1);
});
