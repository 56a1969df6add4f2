/**
 * Steps that several journeys share: the quick input (input boxes, quick picks
 * and VS Code's own file dialog), the login and download webviews, the trees,
 * checks on disk, and `sft receive` processes that act as receivers outside
 * the editor.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';
import type { FrameLocator, Locator, Page } from 'playwright-core';
import { command, paletteTitle } from '../manifest';
import { REPO_ROOT } from '../paths';
import { DEFAULT_WAIT_MS, exactText, waitUntil } from '../wait';
import type { TreeRow, Workbench } from '../workbench';

export const RECEIVED_FILES_VIEW = 'secureFileTransfer.receivedFiles';
export const RECEIVERS_VIEW = 'secureFileTransfer.receivers';
/** Id the extension gives its status bar item; VS Code prefixes the extension id. */
export const RECEIVER_STATUS_ITEM = 'secureFileTransfer.receiverStatus';

/** The command line built by `npm run build` (the .vsix build also writes it). */
const SFT_BIN = path.join(REPO_ROOT, 'bin', 'sft.js');
/** Milliseconds an `sft receive` process may take to create its keys and listen. */
const SFT_RECEIVE_START_MS = 30_000;
/** Milliseconds an `sft receive` process gets to stop after SIGTERM before SIGKILL. */
const SFT_RECEIVE_STOP_MS = 15_000;
/** Milliseconds a drag may hover over the activity bar until the view container opens. */
const DRAG_HOVER_MS = 10_000;

// The workbench

/** Closes every editor and webview and clears the notifications, so a journey starts from a calm window. */
export async function resetWindow(workbench: Workbench): Promise<void> {
  await workbench.page.keyboard.press('Escape');
  await workbench.runCommand('View: Close All Editors');
  await workbench.runCommand('Notifications: Clear All Notifications');
}

/**
 * Moves the mouse into the editor area, so that a hover shown for a tree row
 * or a menu item does not cover the webview that the next step clicks.
 */
export async function moveMouseToEditor(page: Page): Promise<void> {
  const size = page.viewportSize() ?? { width: 1440, height: 900 };
  await page.mouse.move(size.width * 0.6, size.height * 0.5);
  await page.locator('.monaco-hover').first().waitFor({ state: 'hidden', timeout: 5000 }).catch(() => undefined);
}

/** Runs one of the extension's commands from the palette, by its command id. */
export async function runExtensionCommand(workbench: Workbench, commandId: string): Promise<void> {
  await workbench.runCommand(paletteTitle(commandId));
}

/**
 * Runs *Developer: Reload Window* from the palette and waits for the new
 * workbench with the extension's view container.
 */
export async function reloadWindowFromPalette(workbench: Workbench): Promise<void> {
  const { page } = workbench;
  const navigated = page.waitForEvent('framenavigated', { predicate: (frame) => frame === page.mainFrame(), timeout: DEFAULT_WAIT_MS });

  await page.keyboard.press('F1');
  const widget = page.locator('.quick-input-widget');
  const input = widget.locator('input.input').first();
  await input.fill('>Developer: Reload Window');
  const row = widget
    .locator('.quick-input-list .monaco-list-row')
    .filter({ has: page.locator('.label-name', { hasText: exactText('Developer: Reload Window') }) })
    .first();
  await row.waitFor({ state: 'visible' });
  await row.click();

  await navigated;
  await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 60_000 });
  await workbench.activityBarItem().waitFor({ state: 'visible', timeout: 60_000 });
}

// The quick input: input boxes, quick picks and file dialogs

function quickInput(page: Page) {
  const widget = page.locator('.quick-input-widget');
  return {
    widget,
    input: widget.locator('input.input').first(),
    rows: widget.locator('.quick-input-list .monaco-list-row'),
    message: widget.locator('.quick-input-message'),
    title: widget.locator('.quick-input-title'),
  };
}

/** Waits for an input box whose prompt contains `prompt`, types `value` and presses Enter. */
export async function fillInputBox(page: Page, prompt: string, value: string): Promise<void> {
  const { message, input } = quickInput(page);
  await message.filter({ hasText: prompt }).waitFor({ state: 'visible' });
  await input.fill(value);
  await input.press('Enter');
}

/** Waits for a quick pick that offers `label` and chooses it. */
export async function chooseQuickPickItem(page: Page, label: string): Promise<string[]> {
  const { rows } = quickInput(page);
  const row = rows.filter({ has: page.locator('.label-name', { hasText: exactText(label) }) }).first();
  await row.waitFor({ state: 'visible' });
  const offered = await rows.locator('.label-name').allInnerTexts();
  await row.click();
  return offered.map((text) => text.trim());
}

/**
 * Types `filePath` into VS Code's own open or save dialog (the one the browser
 * shows in the quick input) and clicks its accept button, which shows the open
 * label in open dialogs and "OK" in save dialogs. Returns the dialog's title
 * and the button's label.
 *
 * Enter is not used, because on a folder it opens the folder instead of
 * choosing it.
 */
export async function chooseInFileDialog(page: Page, filePath: string): Promise<{ title: string; acceptLabel: string }> {
  const { widget, input, rows } = quickInput(page);
  const progress = widget.locator('.quick-input-progress');
  const acceptButton = widget.locator('.monaco-button').first();
  const isIdle = async () => !((await progress.getAttribute('class')) ?? '').includes('active') && (await rows.count()) > 0;

  // The dialog fills in its starting path a moment after it opens, and that
  // would overwrite a path typed earlier.
  await waitUntil(async () => (await input.isVisible()) && (await input.inputValue()).startsWith('/') && (await isIdle()), {
    message: 'the file dialog to show its starting folder',
  });
  const title = (await quickInput(page).title.innerText()).trim();
  const acceptLabel = (await acceptButton.innerText()).trim();

  // The dialog follows a path key by key and ignores a value set at once.
  await input.fill('');
  await input.pressSequentially(filePath);

  // The dialog reads each folder of the typed path as it goes. A click before
  // it has caught up is judged on an older path (for example "The folder
  // already exists") and leaves the dialog open, so the click is repeated.
  await waitUntil(async () => (await input.inputValue()) === filePath && (await isIdle()), {
    message: `the file dialog to show ${filePath}`,
  });
  const accepted = async () => !(await widget.isVisible()) || (await input.inputValue()) !== filePath;
  await waitUntil(async () => {
    if (await accepted()) return true;
    await acceptButton.click({ timeout: 2000 });
    return waitUntil(accepted, { timeout: 2000 }).catch(() => false);
  }, { message: `the file dialog to accept ${filePath}` });
  return { title, acceptLabel };
}

// Trees

/** Returns the rows of a tree as "LABEL | DESCRIPTION", indented by level, for messages. */
export function describeRows(rows: TreeRow[]): string {
  return rows.map((row) => `${'  '.repeat(row.level - 1)}${row.label} | ${row.description}`).join('\n');
}

/**
 * Reads a tree until `check` returns a value other than undefined or false and
 * returns that value. The trees refresh a moment after the data changes.
 */
export async function waitForTree<T>(
  workbench: Workbench,
  viewId: string,
  check: (rows: TreeRow[]) => T | undefined | false,
  message: string,
  timeout = DEFAULT_WAIT_MS,
): Promise<T> {
  let last: TreeRow[] = [];
  try {
    return await waitUntil(async () => {
      last = await workbench.readTreeView(viewId);
      return check(last);
    }, { timeout, message });
  } catch (error) {
    throw new Error(`${(error as Error).message}\nThe tree showed:\n${describeRows(last)}`);
  }
}

/** A received file as Received Files shows it: under the row of its sender. */
export interface ReceivedRow {
  sender: string;
  label: string;
  description: string;
}

/** Returns the received files of a Received Files tree with the sender row each is under. */
export function receivedRows(rows: TreeRow[]): ReceivedRow[] {
  const files: ReceivedRow[] = [];
  let sender = '';
  for (const row of rows) {
    if (row.level === 1) {
      sender = row.label;
    } else {
      files.push({ sender, label: row.label, description: row.description });
    }
  }
  return files;
}

/** Returns the received file `label`, or undefined while the tree does not show it. */
export function receivedRow(rows: TreeRow[], label: string): ReceivedRow | undefined {
  return receivedRows(rows).find((row) => row.label === label);
}

/**
 * Selects several Explorer rows, the first by a click and the others with
 * Ctrl, then chooses `item` in the context menu of the last.
 */
export async function contextMenuOfSelection(workbench: Workbench, rowPaths: string[], item: string): Promise<void> {
  const { page } = workbench;
  const rows: Locator[] = [];
  for (const rowPath of rowPaths) rows.push(await workbench.explorerRow(rowPath));
  const isSelected = async (row: Locator) => (await row.getAttribute('aria-selected')) === 'true';

  // A click on a file opens it in a preview editor, and the Explorer then
  // selects that file alone, which drops rows added with Ctrl before. So the
  // Ctrl clicks wait for the editor, and rows that lost their selection are
  // clicked again.
  await rows[0].click();
  if ((await rows[0].getAttribute('aria-expanded')) === null) {
    const name = path.posix.basename(rowPaths[0]);
    await page.locator(`.tabs-container .tab.active[data-resource-name=${JSON.stringify(name)}]`).waitFor({ state: 'visible' });
  }
  await waitUntil(async () => {
    for (const row of rows.slice(1)) {
      if (!(await isSelected(row))) {
        await row.click({ modifiers: ['Control'] });
        await waitUntil(() => isSelected(row), { timeout: 1000 }).catch(() => undefined);
      }
    }
    for (const row of rows) {
      if (!(await isSelected(row))) return false;
    }
    return true;
  }, { message: `the Explorer to select ${rowPaths.join(', ')}` });

  await rows[rows.length - 1].click({ button: 'right' });
  await workbench.clickMenuItem(item);
}

/**
 * Drags a row of the Explorer onto a row of the Receivers view. The views are
 * in different view containers: the drag hovers over the extension's activity
 * bar entry until its views open, then drops on the receiver.
 */
export async function dragExplorerRowToReceiver(workbench: Workbench, explorerPath: string, receiverLabel: string): Promise<void> {
  const { page } = workbench;
  const source = await workbench.explorerRow(explorerPath);
  const sourceBox = await boxOf(source);
  const start = { x: sourceBox.x + sourceBox.width / 2, y: sourceBox.y + sourceBox.height / 2 };

  await page.mouse.move(start.x, start.y);
  await page.mouse.down();
  await page.mouse.move(start.x + 12, start.y + 6, { steps: 4 });

  const iconBox = await boxOf(workbench.activityBarItem());
  const icon = { x: iconBox.x + iconBox.width / 2, y: iconBox.y + iconBox.height / 2 };
  await page.mouse.move(icon.x, icon.y, { steps: 8 });

  // The activity bar opens a view container after a drag has hovered over it
  // for a while, counting dragover events, so the mouse keeps moving by a pixel.
  const target = page
    .locator('.part.sidebar .pane-body .monaco-list-row')
    .filter({ has: page.locator('.label-name', { hasText: exactText(receiverLabel) }) })
    .first();
  let wiggle = 0;
  try {
    await waitUntil(async () => {
      wiggle += 1;
      await page.mouse.move(icon.x + (wiggle % 2), icon.y, { steps: 1 });
      return target.isVisible();
    }, { timeout: DRAG_HOVER_MS, message: `the Receivers view to open during the drag and show ${receiverLabel}` });
  } catch (error) {
    await page.mouse.up();
    throw error;
  }

  const targetBox = await boxOf(target);
  await page.mouse.move(targetBox.x + targetBox.width / 2, targetBox.y + targetBox.height / 2, { steps: 8 });
  await page.mouse.up();
}

async function boxOf(locator: Locator): Promise<{ x: number; y: number; width: number; height: number }> {
  const box = await locator.boundingBox();
  if (!box) {
    throw new Error(`No bounding box for ${locator}: the element is not rendered.`);
  }
  return box;
}

// Webviews

/** Fills a `vscode-textfield` of a webview through its inner input. */
export async function fillTextField(frame: FrameLocator, id: string, value: string): Promise<void> {
  await frame.locator(`#${id} input`).fill(value);
}

/** Returns the login webview once it has received its initial values (the file list). */
export async function loginWebview(workbench: Workbench): Promise<FrameLocator> {
  const frame = await workbench.webviewFrame('#send-button');
  await frame.locator('#file-list li').first().waitFor({ state: 'attached' });
  return frame;
}

export interface LoginValues {
  receiver?: string;
  username?: string;
  password?: string;
  rememberPassword?: boolean;
  passphrase: string;
}

/** Fills the login webview; fields left undefined keep what the form shows. */
export async function fillLogin(frame: FrameLocator, values: LoginValues): Promise<void> {
  if (values.receiver !== undefined) await fillTextField(frame, 'receiver', values.receiver);
  if (values.username !== undefined) await fillTextField(frame, 'username', values.username);
  if (values.password !== undefined) await fillTextField(frame, 'password', values.password);
  if (values.rememberPassword !== undefined) {
    const checkbox = frame.locator('#remember-password');
    const checked = (await checkbox.getAttribute('checked')) !== null;
    if (checked !== values.rememberPassword) await checkbox.click();
  }
  await fillTextField(frame, 'passphrase', values.passphrase);
  await fillTextField(frame, 'passphrase-confirm', values.passphrase);
}

/** Returns the download webview of the received file `name`. */
export async function downloadWebview(workbench: Workbench, name: string): Promise<FrameLocator> {
  const frame = await workbench.webviewFrame('#download-button');
  await frame.locator('#entry-name', { hasText: exactText(name) }).waitFor({ state: 'attached' });
  return frame;
}

/** Opens *Download…* from the context menu of a received file. */
export async function openDownload(workbench: Workbench, name: string): Promise<FrameLocator> {
  const row = await workbench.treeRow(RECEIVED_FILES_VIEW, name);
  await row.click({ button: 'right' });
  await workbench.clickMenuItem(command('secureFileTransfer.download').title);
  await moveMouseToEditor(workbench.page);
  return downloadWebview(workbench, name);
}

// Files on disk

export function sha256File(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Returns `bytes` bytes that do not compress, seeded so every run sends the same content. */
export function pseudoRandomBytes(bytes: number, seed: string): Buffer {
  const blocks: Buffer[] = [];
  for (let counter = 0; blocks.length * 32 < bytes; counter++) {
    blocks.push(crypto.createHash('sha256').update(`${seed}:${counter}`).digest());
  }
  return Buffer.concat(blocks).subarray(0, bytes);
}

/** One stored file of a receiver's store, as its sidecar and index.json record it. */
export interface IndexEntry {
  id: string;
  senderUsername: string;
  remoteAddress: string;
  displayName: string;
  relativePath: string;
  plaintextSize: number;
}

/**
 * Reads the entries of a receiver's store from the sidecars of its stored envelopes
 * (STORE/files/ID.json beside ID.sft). They exist before a file is confirmed, while
 * index.json may still lack the files of the last half second.
 */
export function readStoreIndex(storeDir: string): IndexEntry[] {
  const files = path.join(storeDir, 'files');
  if (!fs.existsSync(files)) return [];
  const names = fs.readdirSync(files);
  return names
    .filter((name) => name.endsWith('.json') && names.includes(name.replace(/\.json$/, '.sft')))
    .map((name) => (JSON.parse(fs.readFileSync(path.join(files, name), 'utf8')) as { entry: IndexEntry }).entry);
}

/** Lists the files in one folder of a store (`files`, `partial`); none when it does not exist. */
export function listStoreFolder(storeDir: string, folder: string): string[] {
  const dir = path.join(storeDir, folder);
  return fs.existsSync(dir) ? fs.readdirSync(dir) : [];
}

/** Runs 7-Zip on a ZIP with a password; returns its exit status and output. */
export function run7z(args: string[], password: string): { status: number | null; output: string } {
  // -p with the password attached is 7-Zip's only non-interactive form.
  const result = spawnSync('7z', [...args, `-p${password}`], { encoding: 'utf8' });
  if (result.error) {
    throw new Error(`Running 7z failed: ${result.error.message}. Install Debian's p7zip-full or 7zip.`);
  }
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

// Receivers

/**
 * Connects to a receiver on 127.0.0.1 and returns its fingerprint: "SHA256:"
 * and the unpadded base64 of the SHA-256 of its certificate.
 */
export function receiverFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const certificate = socket.getPeerCertificate();
      socket.destroy();
      const digest = crypto.createHash('sha256').update(certificate.raw).digest('base64').replace(/=+$/, '');
      resolve(`SHA256:${digest}`);
    });
    socket.setTimeout(10_000, () => socket.destroy(new Error(`No TLS handshake from 127.0.0.1:${port} within 10 s.`)));
    socket.on('error', reject);
  });
}

/** Adds an account to a store with `sft account add`. */
export function addAccountWithCli(storeDir: string, username: string, password: string): void {
  fs.mkdirSync(storeDir, { recursive: true });
  const passwordFile = path.join(path.dirname(storeDir), `${path.basename(storeDir)}-${username}.password`);
  fs.writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  try {
    const result = spawnSync(process.execPath, [SFT_BIN, 'account', 'add', username, '--store', storeDir, '--password-file', passwordFile], {
      encoding: 'utf8',
    });
    if (result.status !== 0) {
      throw new Error(`"sft account add ${username}" failed with status ${result.status}: ${result.stderr}`);
    }
  } finally {
    fs.rmSync(passwordFile, { force: true });
  }
}

/** A receiver run by `sft receive` on 127.0.0.1, with its standard error kept in a log file. */
export class SftReceiveProcess {
  private constructor(
    private readonly child: ChildProcess,
    private readonly exited: Promise<void>,
    readonly storeDir: string,
    readonly port: number,
    /** The link it printed: `sft://127.0.0.1:PORT#SHA256:...`. */
    readonly link: string,
    readonly logFile: string,
  ) {}

  /** The fingerprint part of the link. */
  get fingerprint(): string {
    return this.link.slice(this.link.indexOf('#') + 1);
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Starts `sft receive` on `port` (0 picks a free one) and waits until it listens. */
  static async start(storeDir: string, port = 0): Promise<SftReceiveProcess> {
    fs.mkdirSync(storeDir, { recursive: true });
    const portFile = `${storeDir}.port`;
    const logFile = `${storeDir}.log`;
    fs.rmSync(portFile, { force: true });

    const log = fs.openSync(logFile, 'a');
    const child = spawn(
      process.execPath,
      [SFT_BIN, 'receive', '--store', storeDir, '--host', '127.0.0.1', '--port', String(port), '--port-file', portFile],
      { stdio: ['ignore', 'pipe', log] },
    );
    fs.closeSync(log);
    let stdout = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    let exitStatus: number | string | null | undefined;
    const exited = new Promise<void>((resolve) => {
      child.on('exit', (status, signal) => {
        exitStatus = status ?? signal;
        resolve();
      });
    });

    try {
      const link = await waitUntil(() => {
        if (exitStatus !== undefined) {
          throw new Error(`"sft receive" exited with ${exitStatus}: ${fs.readFileSync(logFile, 'utf8')}`);
        }
        return fs.existsSync(portFile) && /^sft:\/\/\S+/m.exec(stdout)?.[0];
      }, { timeout: SFT_RECEIVE_START_MS, message: `"sft receive --store ${storeDir}" to listen` });
      const listeningPort = Number(fs.readFileSync(portFile, 'utf8').trim());
      return new SftReceiveProcess(child, exited, storeDir, listeningPort, link, logFile);
    } catch (error) {
      if (child.pid !== undefined && exitStatus === undefined) child.kill('SIGKILL');
      throw error;
    }
  }

  /** Returns what the receiver logged so far. */
  log(): string {
    return fs.readFileSync(this.logFile, 'utf8');
  }

  /** Stops the process by its PID: SIGTERM, then SIGKILL if it does not exit in time. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), SFT_RECEIVE_STOP_MS);
    await this.exited;
    clearTimeout(timer);
  }
}
