/**
 * Files that the UI journeys leave behind: for a failed journey a screenshot,
 * the extension's log and the workbench logs under test-results/e2e/NAME/,
 * and on request the screenshots that the documentation shows, in docs/images/.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import type { Session } from './harness';
import { EXTENSION_ID } from './manifest';
import { DOC_IMAGES_DIR, RESULTS_DIR } from './paths';

const SCREENSHOT_TIMEOUT_MS = 10_000;

/** Turns a test name into a folder or file name. */
export function slug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'unnamed';
}

// Every file below the folder, relative to it.
function listFiles(root: string, dir = root): string[] {
  if (!fs.existsSync(dir)) return [];
  const files: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      files.push(...listFiles(root, full));
    } else if (entry.isFile()) {
      files.push(path.relative(root, full));
    }
  }
  return files;
}

/**
 * Copies the logs of the extension host: the extension's own output channel
 * (exthost*\/EXTENSION_ID/*.log), the host's log and code-server's output.
 */
function copyLogs(session: Session, target: string): string[] {
  const copied: string[] = [];
  const logsRoot = path.join(session.userDataDir, 'logs');

  for (const file of listFiles(logsRoot)) {
    const parts = file.split(path.sep);
    const isExtensionLog = parts.includes(EXTENSION_ID);
    const isHostLog = parts.some((part) => part.startsWith('exthost')) && /exthost\.log$/i.test(file);
    if (!isExtensionLog && !isHostLog && path.basename(file) !== 'remoteagent.log') continue;

    const destination = path.join(target, 'logs', file);
    fs.mkdirSync(path.dirname(destination), { recursive: true });
    fs.copyFileSync(path.join(logsRoot, file), destination);
    copied.push(file);
  }

  if (fs.existsSync(session.server.logFile)) {
    fs.copyFileSync(session.server.logFile, path.join(target, 'code-server.log'));
  }
  return copied;
}

/**
 * Saves what a reader needs to understand a failed journey. Never throws, so
 * the journey's own error is what the test reports.
 */
export async function saveFailureArtifacts(session: Session, testName: string, error: unknown): Promise<void> {
  const target = path.join(RESULTS_DIR, slug(testName));
  try {
    fs.rmSync(target, { recursive: true, force: true });
    fs.mkdirSync(target, { recursive: true });

    const report = [
      `journey: ${testName}`,
      `error: ${error instanceof Error ? error.stack ?? error.message : String(error)}`,
      `workspace: ${session.workspace}`,
      '',
      'browser errors:',
      ...session.browserErrors.map((line) => `  ${line}`),
      '',
      'requests blocked because they left 127.0.0.1:',
      ...session.browser.blockedUrls.map((url) => `  ${url}`),
    ];
    fs.writeFileSync(path.join(target, 'report.txt'), `${report.join('\n')}\n`);

    await session.page
      .screenshot({ path: path.join(target, 'screenshot.png'), timeout: SCREENSHOT_TIMEOUT_MS })
      .catch((screenshotError: Error) => {
        fs.appendFileSync(path.join(target, 'report.txt'), `screenshot failed: ${screenshotError.message}\n`);
      });

    const logs = copyLogs(session, target);
    const extensionLogs = logs.filter((file) => file.includes(EXTENSION_ID));
    console.error(
      `[e2e] saved the screenshot and ${logs.length} log file(s) of "${testName}" in ${path.relative(process.cwd(), target)}` +
      (extensionLogs.length === 0 ? ' (the extension wrote no log)' : ''),
    );
  } catch (saveError) {
    console.error(`[e2e] could not save the artifacts of "${testName}": ${saveError}`);
  }
}

/**
 * Saves a screenshot for the documentation as docs/images/NAME.png: of the
 * whole page, or of one element when `target` is a locator.
 * Set SFT_DOC_SCREENSHOTS=0 to skip it, for example while changing the UI.
 */
export async function saveDocScreenshot(target: Page | Locator, name: string): Promise<string | undefined> {
  if (process.env.SFT_DOC_SCREENSHOTS === '0') return undefined;

  fs.mkdirSync(DOC_IMAGES_DIR, { recursive: true });
  const file = path.join(DOC_IMAGES_DIR, `${slug(name)}.png`);
  await target.screenshot({ path: file, timeout: SCREENSHOT_TIMEOUT_MS });
  return file;
}
