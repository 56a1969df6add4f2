/**
 * Sessions for the UI journeys: one code-server with the packaged extension,
 * its own user data, extensions and workspace folders in a temporary folder,
 * and one headless Chromium that reaches 127.0.0.1 only.
 *
 * A test file calls useSession() once and declares its tests with journey();
 * a failed journey leaves a screenshot and the logs in test-results/e2e/.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { LaunchedBrowser } from '../../scripts/browser';
import type { CodeServer } from '../../scripts/code-server';
import { saveFailureArtifacts } from './artifacts';
import { browser as browserModule, codeServer as codeServerModule, packaging, RESULTS_DIR } from './paths';
import { Workbench } from './workbench';

/** Milliseconds for starting code-server and Chromium and loading the workbench. */
const SESSION_START_MS = 180_000;
/** Default milliseconds for one journey. */
const JOURNEY_TIMEOUT_MS = 180_000;
/** Milliseconds that saving a failed journey's screenshot and logs may take. */
const ARTIFACTS_MS = 30_000;

export interface SessionOptions {
  /** Files to create in the workspace folder, by relative path. */
  files?: Record<string, string | Buffer>;
  /** User settings over the harness defaults. */
  settings?: Record<string, unknown>;
  /**
   * Settings of scope "machine", such as the receiver's port and store folder.
   * code-server is a remote window, so VS Code reads these from the server's
   * Machine/settings.json and ignores them in the user settings.
   */
  machineSettings?: Record<string, unknown>;
}

export interface Session {
  /** The temporary folder that contains everything below; removed by stop(). */
  stateDir: string;
  /** The workspace folder opened in the workbench. */
  workspace: string;
  userDataDir: string;
  server: CodeServer;
  browser: LaunchedBrowser;
  page: Page;
  workbench: Workbench;
  /** Console errors and page errors seen in the browser, for failure reports. */
  browserErrors: string[];
  stop(): Promise<void>;
}

function packagedExtension(): string {
  const vsix = process.env.SFT_VSIX ?? packaging.vsixPath();
  if (!fs.existsSync(vsix)) {
    throw new Error(`No packaged extension at ${vsix}. Run the suite with "npm run test:e2e", which packages it.`);
  }
  return vsix;
}

function writeFiles(root: string, files: Record<string, string | Buffer>): void {
  for (const [relativePath, content] of Object.entries(files)) {
    const file = path.join(root, relativePath);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }
}

/** Starts code-server and Chromium and opens the workspace in the workbench. */
export async function startSession(options: SessionOptions = {}): Promise<Session> {
  const vsix = packagedExtension();
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sft-e2e-'));
  const dirs = {
    userDataDir: path.join(stateDir, 'user-data'),
    extensionsDir: path.join(stateDir, 'extensions'),
    xdgDir: path.join(stateDir, 'xdg'),
  };
  const workspace = path.join(stateDir, 'workspace');
  let server: CodeServer | undefined;
  let launched: LaunchedBrowser | undefined;
  let page: Page | undefined;

  try {
    fs.mkdirSync(workspace, { recursive: true });
    writeFiles(workspace, options.files ?? {});

    codeServerModule.installExtension({ vsix, ...dirs });
    if (options.machineSettings) {
      writeFiles(dirs.userDataDir, { 'Machine/settings.json': `${JSON.stringify(options.machineSettings, null, 2)}\n` });
    }
    server = await codeServerModule.startCodeServer({
      ...dirs,
      port: await codeServerModule.findFreePort(),
      settings: options.settings,
    });

    launched = await browserModule.launchBrowser();
    page = await launched.context.newPage();
    const browserErrors: string[] = [];
    page.on('pageerror', (error) => browserErrors.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') browserErrors.push(`console: ${message.text()}`);
    });

    const workbench = new Workbench(page, server.url);
    await workbench.openWorkbench(workspace);

    const runningServer = server;
    const browser = launched;
    return {
      stateDir,
      workspace,
      userDataDir: dirs.userDataDir,
      server: runningServer,
      browser,
      page,
      workbench,
      browserErrors,
      async stop() {
        await browser.close();
        await runningServer.stop();
        fs.rmSync(stateDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await saveStartArtifacts(page, server);
    await launched?.close();
    await server?.stop();
    fs.rmSync(stateDir, { recursive: true, force: true });
    throw error;
  }
}

// A session that failed to start leaves the page and code-server's output.
async function saveStartArtifacts(page: Page | undefined, server: CodeServer | undefined): Promise<void> {
  const target = path.join(RESULTS_DIR, 'session-start');
  fs.mkdirSync(target, { recursive: true });
  await page?.screenshot({ path: path.join(target, 'screenshot.png'), timeout: 10_000 }).catch(() => undefined);
  if (server && fs.existsSync(server.logFile)) {
    fs.copyFileSync(server.logFile, path.join(target, 'code-server.log'));
  }
}

/** A session that useSession() starts before the file's first test. */
export interface SessionHandle {
  /** Returns the running session; throws when it failed to start. */
  get(): Session;
}

/**
 * Starts one session before the first test of the calling file and stops it
 * after the last. The tests of a file share it, in order.
 */
export function useSession(options: SessionOptions = {}): SessionHandle {
  let session: Session | undefined;

  before(async () => {
    session = await startSession(options);
  }, { timeout: SESSION_START_MS });

  after(async () => {
    await session?.stop();
  });

  return {
    get() {
      if (!session) {
        throw new Error('The code-server session did not start; see the error of the "before" hook above.');
      }
      return session;
    },
  };
}

/**
 * Declares one journey. When `body` throws, the page's screenshot and the
 * extension's logs are saved under test-results/e2e/ before the test fails.
 */
export function journey(
  name: string,
  handle: SessionHandle,
  body: (session: Session) => Promise<void>,
  options: { timeout?: number } = {},
): void {
  const timeout = options.timeout ?? JOURNEY_TIMEOUT_MS;

  // The journey times itself out, so that a hung journey also leaves its
  // artifacts; node:test's own limit is only a backstop.
  test(name, { timeout: timeout + ARTIFACTS_MS }, async () => {
    const session = handle.get();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Journey "${name}" timed out after ${timeout} ms.`)), timeout);
    });

    try {
      await Promise.race([body(session), timedOut]);
    } catch (error) {
      await saveFailureArtifacts(session, name, error);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  });
}
