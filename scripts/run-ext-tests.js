// `npm run test:ext`: runs the mocha suite in test/suite inside a real VS Code
// extension host and exits with the suite's status.
//
// By default the host is code-server from .tools/ (installed on first run),
// driven by headless Chromium: VS Code's smoke-test driver reads the test
// paths from the page URL and reports the host's exit status to the page.
// With --electron (or SFT_TEST_ELECTRON=1) it first tries @vscode/test-electron,
// which downloads a desktop VS Code and needs a display; when that fails it
// falls back to code-server.
//
// Environment: SFT_SUITE_GREP runs only the tests whose title contains it;
// SFT_SUITE_TIMEOUT_S limits the whole run (default 600 s); SFT_SUITE_VERBOSE=1
// also prints the workbench's own log lines.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const util = require('node:util');
const { ensureTools, ToolsError } = require('./tools');
const { startCodeServer, findFreePort, latestLogDir } = require('./code-server');
const { launchBrowser } = require('./browser');

const ROOT = path.resolve(__dirname, '..');
const SUITE_ENTRY = path.join(ROOT, 'out', 'test', 'suite', 'index');
const RESULTS_DIR = path.join(ROOT, 'test-results', 'extension-host');
const DEFAULT_TIMEOUT_S = 600;
// Must match SUITE_OUTPUT_PREFIX in test/suite/index.ts.
const SUITE_OUTPUT_PREFIX = '[suite] ';

function say(message) {
  console.log(`[test:ext] ${message}`);
}

function runStep(description, command, args) {
  say(description);
  const result = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) {
    throw new Error(`${description} failed: "${[command, ...args].join(' ')}" exited with status ${result.status}.`);
  }
}

function build() {
  runStep('building the extension (node esbuild.js)', process.execPath, ['esbuild.js']);
  const tsc = require.resolve('typescript/bin/tsc', { paths: [ROOT] });
  runStep('compiling test/suite', process.execPath, [tsc, '-p', 'test/suite/tsconfig.json']);
}

async function runWithTestElectron() {
  say('trying @vscode/test-electron (downloads VS Code)');
  const { runTests } = require('@vscode/test-electron');
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'sft-ext-workspace-'));
  try {
    await runTests({
      extensionDevelopmentPath: ROOT,
      extensionTestsPath: SUITE_ENTRY,
      launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust'],
    });
    return 0;
  } finally {
    fs.rmSync(workspace, { recursive: true, force: true });
  }
}

function suiteTimeoutMs() {
  const value = process.env.SFT_SUITE_TIMEOUT_S;
  if (!value) return DEFAULT_TIMEOUT_S * 1000;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new Error(`SFT_SUITE_TIMEOUT_S must be a positive number of seconds; got "${value}".`);
  }
  return seconds * 1000;
}

// Saves the logs that VS Code hands to codeAutomationExit plus code-server's own.
function saveLogs(logs, stateDir, userDataDir) {
  fs.rmSync(RESULTS_DIR, { recursive: true, force: true });
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  for (const { relativePath, contents } of logs || []) {
    const target = path.join(RESULTS_DIR, 'workbench', relativePath);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, contents);
  }
  const serverLogs = latestLogDir(userDataDir);
  if (serverLogs) {
    fs.cpSync(serverLogs, path.join(RESULTS_DIR, 'server'), { recursive: true });
  }
  const serverOutput = path.join(stateDir, 'code-server.log');
  if (fs.existsSync(serverOutput)) fs.copyFileSync(serverOutput, path.join(RESULTS_DIR, 'code-server.log'));
  say(`logs saved in ${path.relative(ROOT, RESULTS_DIR)}`);
}

function payloadUrl(server, workspace) {
  // The smoke-test driver takes the paths as URIs of the remote file system,
  // which here is this machine seen through the server.
  const remote = (file) => `vscode-remote://${server.host}:${server.port}${file}`;
  const payload = [
    ['extensionDevelopmentPath', remote(ROOT)],
    ['extensionTestsPath', remote(SUITE_ENTRY)],
  ];
  const query = new URLSearchParams({ folder: workspace, payload: JSON.stringify(payload) });
  return `${server.url}?${query}`;
}

async function runInCodeServer() {
  await ensureTools();

  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sft-ext-tests-'));
  const userDataDir = path.join(stateDir, 'user-data');
  const workspace = path.join(stateDir, 'workspace');
  fs.mkdirSync(workspace, { recursive: true });

  const server = await startCodeServer({
    userDataDir,
    // Empty, so the extension under test comes only from the development folder.
    extensionsDir: path.join(stateDir, 'extensions'),
    xdgDir: path.join(stateDir, 'xdg'),
    port: await findFreePort(),
    logFile: path.join(stateDir, 'code-server.log'),
    smokeTestDriver: true,
  });
  say(`code-server ready at ${server.url} (state in ${stateDir})`);

  const browser = await launchBrowser();
  let status = 1;
  let logs = [];
  try {
    const page = await browser.context.newPage();
    let finish;
    const finished = new Promise((resolve) => {
      finish = resolve;
    });

    // The workbench forwards its own log and the extension host's console
    // here; only the suite's lines are shown, everything goes to a file.
    const consoleLines = [];
    await page.exposeFunction('codeAutomationLog', (level, message) => {
      const text = Array.isArray(message) ? util.format(...message) : String(message);
      consoleLines.push(`${level} ${text}`);
      if (text.startsWith(SUITE_OUTPUT_PREFIX)) {
        console.log(text.slice(SUITE_OUTPUT_PREFIX.length));
      } else if (process.env.SFT_SUITE_VERBOSE === '1') {
        console.log(`[workbench ${level}] ${text}`);
      }
    });
    await page.exposeFunction('codeAutomationExit', (code, hostLogs) => {
      finish({ code, logs: hostLogs });
    });
    page.on('crash', () => finish({ code: 1, reason: 'the page crashed' }));
    server.exited.then((code) => finish({ code: 1, reason: `code-server exited (${code})` }));

    const timeoutMs = suiteTimeoutMs();
    const timer = setTimeout(() => finish({ code: 1, reason: `the suite did not finish within ${timeoutMs / 1000} s` }), timeoutMs);
    await page.goto(payloadUrl(server, workspace));
    const result = await finished;
    clearTimeout(timer);

    status = typeof result.code === 'number' ? result.code : 1;
    logs = [...(result.logs || []), { relativePath: 'console.log', contents: `${consoleLines.join('\n')}\n` }];
    if (result.reason) console.error(`[test:ext] ${result.reason}`);
    if (browser.blockedUrls.length > 0) {
      say(`blocked ${browser.blockedUrls.length} request(s) to other hosts, first: ${browser.blockedUrls[0]}`);
    }
  } finally {
    await browser.close();
    await server.stop();
    saveLogs(logs, stateDir, userDataDir);
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
  return status;
}

async function main() {
  const started = Date.now();
  build();

  let status = null;
  if (process.argv.includes('--electron') || process.env.SFT_TEST_ELECTRON === '1') {
    try {
      status = await runWithTestElectron();
    } catch (error) {
      // runTests rejects this way when the suite ran and failed; anything
      // else (no download, no display) means the suite never ran.
      const failed = /Test run failed with code (\d+)/.exec(String(error && error.message));
      if (failed) return Number(failed[1]) || 1;
      say(`@vscode/test-electron failed (${error instanceof Error ? error.message : error}); using code-server instead`);
    }
  }
  if (status === null) {
    status = await runInCodeServer();
  }

  say(`${status === 0 ? 'passed' : `failed with status ${status}`} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return status;
}

main().then(
  (status) => process.exit(status),
  (error) => {
    console.error(`[test:ext] ${error instanceof ToolsError ? error.message : error.stack || error}`);
    process.exit(1);
  },
);
