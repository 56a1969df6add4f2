/**
 * Entry point of the extension-host test suite. VS Code loads this module in
 * the extension host (as `extensionTestsPath`) and awaits `run()`; a rejection
 * makes the host exit with status 1.
 *
 * Runs every `*.test.js` file next to this one and below it with mocha's TDD
 * interface (`suite`, `test`). The environment variable SFT_SUITE_GREP, when
 * set, runs only the tests whose full title contains it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as util from 'node:util';
import Mocha from 'mocha';

// Generous, because the first test in a fresh host also pays for activation.
const TEST_TIMEOUT_MS = 60_000;

/**
 * Prefix of every line the reporter prints. The workbench forwards the host's
 * console together with its own log, and scripts/run-ext-tests.js shows only
 * the lines with this prefix.
 */
export const SUITE_OUTPUT_PREFIX = '[suite] ';

function printSuiteLine(...args: unknown[]): void {
  for (const line of util.format(...args).split('\n')) {
    console.log(SUITE_OUTPUT_PREFIX + line);
  }
}

function findTestFiles(dir: string): string[] {
  const files: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      files.push(...findTestFiles(full));
    } else if (entry.name.endsWith('.test.js')) {
      files.push(full);
    }
  }
  return files.sort();
}

export function run(): Promise<void> {
  // Every built-in reporter prints through Base.consoleLog.
  Mocha.reporters.Base.consoleLog = printSuiteLine;
  const mocha = new Mocha({ ui: 'tdd', color: false, timeout: TEST_TIMEOUT_MS });
  const grep = process.env.SFT_SUITE_GREP;
  if (grep) {
    mocha.grep(grep);
  }

  const files = findTestFiles(__dirname);
  if (files.length === 0) {
    return Promise.reject(new Error(`No *.test.js files under ${__dirname}. Compile the suite first.`));
  }
  for (const file of files) {
    mocha.addFile(file);
  }

  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      const passes = runner.stats?.passes ?? 0;
      // The closing line of the run, in the form test summaries use.
      printSuiteLine(`extension-host suite: ${passes} passed, ${failures} failed`);
      if (failures > 0) {
        reject(new Error(`${failures} extension-host test(s) failed.`));
      } else if (passes === 0) {
        reject(new Error('The extension-host suite ran no test.'));
      } else {
        resolve();
      }
    });
  });
}
