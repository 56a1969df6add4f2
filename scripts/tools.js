// Installs the programs that run the extension in a real VS Code into .tools/:
// Debian packages (Chromium, Kerberos headers, 7-Zip), Node 24 and code-server.
// Every step checks first, so a second run takes seconds.
//
// Usage: node scripts/tools.js        install what is missing and print the paths
//        node scripts/tools.js --check print what is missing and exit 1 if anything is
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const TOOLS_DIR = path.join(ROOT, '.tools');
const LOG_DIR = path.join(TOOLS_DIR, 'logs');
const BIN_DIR = path.join(TOOLS_DIR, 'bin');

// code-server 4.139.1 is VS Code 1.139.1, whose extension host runs Node 24.
const CODE_SERVER_VERSION = '4.139.1';
const NODE_MAJOR = 24;

const NODE_PACKAGE = `node-${process.platform}-${process.arch}`;
const NODE_PREFIX = path.join(TOOLS_DIR, `node${NODE_MAJOR}`);
const NODE_HOME = path.join(NODE_PREFIX, 'node_modules', NODE_PACKAGE);
const NODE_BIN = path.join(NODE_HOME, 'bin', 'node');

const CODE_SERVER_PREFIX = path.join(TOOLS_DIR, 'code-server');
const CODE_SERVER_HOME = path.join(CODE_SERVER_PREFIX, 'node_modules', 'code-server');
const CODE_SERVER_ENTRY = path.join(CODE_SERVER_HOME, 'out', 'node', 'entry.js');
// Written only after code-server printed its version, so an interrupted install is redone.
const CODE_SERVER_MARKER = path.join(CODE_SERVER_PREFIX, 'installed.json');

const DEFAULT_CHROMIUM = '/usr/bin/chromium';

// Debian packages by the reason they are needed. python3, make and g++ build
// code-server's native modules with node-gyp.
const DEBIAN_PACKAGES = [
  { name: 'chromium', reason: 'the browser that the UI tests drive' },
  { name: 'libkrb5-dev', reason: "headers for code-server's kerberos module, which is built from source" },
  { name: '7zip', reason: '7zz, which the tests use to open the ZIP files the extension writes' },
  { name: 'python3', reason: 'node-gyp, which builds code-server native modules' },
  { name: 'make', reason: 'node-gyp' },
  { name: 'g++', reason: 'node-gyp' },
];

// npm packages that the test harness loads from the repository's node_modules.
const HARNESS_PACKAGES = ['playwright-core', 'mocha', '@vscode/vsce'];

const LOCK_DIR = path.join(TOOLS_DIR, 'install.lock');
const LOCK_WAIT_MS = 15 * 60 * 1000;
const LOCK_POLL_MS = 1000;

/** Error for a failed install step; names the command and the log to read. */
class ToolsError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ToolsError';
  }
}

function say(message) {
  console.log(`[tools] ${message}`);
}

function relative(file) {
  return path.relative(process.cwd(), file) || '.';
}

/** Returns the paths of the installed tools; does not check that they exist. */
function toolPaths() {
  return {
    toolsDir: TOOLS_DIR,
    binDir: BIN_DIR,
    node: NODE_BIN,
    nodeHome: NODE_HOME,
    codeServerEntry: CODE_SERVER_ENTRY,
    codeServerVersion: CODE_SERVER_VERSION,
    chromium: process.env.SFT_CHROMIUM || DEFAULT_CHROMIUM,
  };
}

// Variables that an enclosing `npm run` passes to its script. A nested npm
// would take them as its own settings: npm_config_user_agent still names the
// outer Node version, and code-server's install script rejects anything but
// Node 24 by reading it.
const OUTER_NPM_VARIABLES = /^(npm_config_(user_agent|node_gyp|local_prefix|prefix|global_prefix|npm_version)|npm_execpath|npm_node_execpath|npm_command|npm_lifecycle_.*|npm_package_.*|INIT_CWD)$/i;

/** Returns the environment that runs npm and node-gyp on Node 24 with its local headers. */
function node24Environment(base = process.env) {
  const clean = {};
  for (const [name, value] of Object.entries(base)) {
    if (!OUTER_NPM_VARIABLES.test(name)) clean[name] = value;
  }
  return {
    ...clean,
    PATH: `${BIN_DIR}${path.delimiter}${base.PATH || ''}`,
    // Without this node-gyp downloads Node headers, which fails offline.
    npm_config_nodedir: NODE_HOME,
  };
}

/**
 * Runs a command with its output going to a log file under .tools/logs.
 * Rejects with a ToolsError that names the command, its exit status and the log.
 */
function runLogged(step, command, args, options = {}) {
  fs.mkdirSync(LOG_DIR, { recursive: true });
  const logFile = path.join(LOG_DIR, `${step}.log`);
  const log = fs.openSync(logFile, 'w');
  const shown = [command, ...args].join(' ');
  fs.writeSync(log, `$ ${shown}\n`);

  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', log, log] });
    child.on('error', (error) => {
      fs.closeSync(log);
      reject(new ToolsError(`Step "${step}" failed: cannot run "${shown}": ${error.message}`));
    });
    child.on('close', (status, signal) => {
      fs.closeSync(log);
      if (status === 0) {
        resolve(logFile);
        return;
      }
      const tail = readTail(logFile, 30);
      const how = signal ? `was killed by ${signal}` : `exited with status ${status}`;
      reject(new ToolsError(
        `Step "${step}" failed: "${shown}" ${how}.\n` +
        `Last lines of ${relative(logFile)}:\n${tail}\n` +
        `Fix the cause and run "node scripts/tools.js" again.`,
      ));
    });
  });
}

function readTail(file, lineCount) {
  const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
  return lines.slice(-lineCount).map((line) => `  ${line}`).join('\n');
}

function missingDebianPackages() {
  const names = DEBIAN_PACKAGES.map((p) => p.name);
  if (process.env.SFT_CHROMIUM) {
    names.splice(names.indexOf('chromium'), 1);
  }
  const query = spawnSync('dpkg-query', ['-W', '-f=${Package} ${Status}\n', ...names], { encoding: 'utf8' });
  if (query.error) {
    throw new ToolsError(
      `Cannot check Debian packages: dpkg-query failed (${query.error.message}). ` +
      `This installer needs Debian or Ubuntu; elsewhere install ${names.join(', ')} by hand ` +
      'and set SFT_CHROMIUM to the Chromium executable.',
    );
  }
  const installed = new Set();
  for (const line of query.stdout.split('\n')) {
    const [name, ...status] = line.split(' ');
    if (status.join(' ') === 'install ok installed') installed.add(name);
  }
  return names.filter((name) => !installed.has(name));
}

async function ensureDebianPackages() {
  const missing = missingDebianPackages();
  if (missing.length === 0) {
    say('Debian packages: present');
    return;
  }

  const reasons = missing.map((name) => `${name} (${DEBIAN_PACKAGES.find((p) => p.name === name).reason})`);
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new ToolsError(
      `Missing Debian packages: ${reasons.join('; ')}.\n` +
      `Install them as root with: sudo apt-get install -y ${missing.join(' ')}`,
    );
  }

  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  say(`Debian packages: installing ${missing.join(', ')} (apt-get update, then apt-get install)`);
  await runLogged('apt-get-update', 'apt-get', ['update'], { env });
  await runLogged('apt-get-install', 'apt-get', ['install', '-y', ...missing], { env });

  const stillMissing = missingDebianPackages();
  if (stillMissing.length > 0) {
    throw new ToolsError(`apt-get install finished but ${stillMissing.join(', ')} is still not installed.`);
  }
}

function nodeVersion(binary) {
  if (!fs.existsSync(binary)) return null;
  const result = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : null;
}

async function ensureNode24() {
  const version = nodeVersion(NODE_BIN);
  if (version && version.startsWith(`v${NODE_MAJOR}.`)) {
    linkNodeIntoBin();
    say(`Node ${NODE_MAJOR}: ${version} present`);
    return;
  }

  say(`Node ${NODE_MAJOR}: installing ${NODE_PACKAGE}@${NODE_MAJOR} from the npm registry into ${relative(NODE_PREFIX)}`);
  fs.mkdirSync(NODE_PREFIX, { recursive: true });
  await runLogged('node24', 'npm', [
    'install', '--prefix', NODE_PREFIX, '--no-audit', '--no-fund', `${NODE_PACKAGE}@${NODE_MAJOR}`,
  ], { env: node24Environment() });

  const installed = nodeVersion(NODE_BIN);
  if (!installed || !installed.startsWith(`v${NODE_MAJOR}.`)) {
    throw new ToolsError(`${NODE_PACKAGE} installed, but ${relative(NODE_BIN)} --version gave "${installed}".`);
  }
  linkNodeIntoBin();
  say(`Node ${NODE_MAJOR}: ${installed} installed`);
}

// npm's scripts start `node` from PATH, so a `node` link that comes first on
// PATH makes the system npm and node-gyp run on Node 24.
function linkNodeIntoBin() {
  fs.mkdirSync(BIN_DIR, { recursive: true });
  const link = path.join(BIN_DIR, 'node');
  let current = null;
  try {
    current = fs.readlinkSync(link);
  } catch {
    current = null;
  }
  if (current === NODE_BIN) return;
  fs.rmSync(link, { force: true });
  fs.symlinkSync(NODE_BIN, link);
}

function installedCodeServer() {
  try {
    const marker = JSON.parse(fs.readFileSync(CODE_SERVER_MARKER, 'utf8'));
    const manifest = JSON.parse(fs.readFileSync(path.join(CODE_SERVER_HOME, 'package.json'), 'utf8'));
    if (marker.version === CODE_SERVER_VERSION && manifest.version === CODE_SERVER_VERSION && fs.existsSync(CODE_SERVER_ENTRY)) {
      return marker;
    }
  } catch {
    // A missing or unreadable marker means the install is incomplete.
  }
  return null;
}

async function ensureCodeServer() {
  const marker = installedCodeServer();
  if (marker) {
    say(`code-server: ${CODE_SERVER_VERSION} present`);
    return;
  }

  say(
    `code-server: installing ${CODE_SERVER_VERSION} into ${relative(CODE_SERVER_PREFIX)} ` +
    `(about 2 minutes: npm builds its native modules; log in ${relative(path.join(LOG_DIR, 'code-server.log'))})`,
  );
  fs.rmSync(CODE_SERVER_MARKER, { force: true });
  fs.mkdirSync(CODE_SERVER_PREFIX, { recursive: true });
  const manifest = path.join(CODE_SERVER_PREFIX, 'package.json');
  if (!fs.existsSync(manifest)) {
    fs.writeFileSync(manifest, `${JSON.stringify({ name: 'sft-code-server', private: true }, null, 2)}\n`);
  }

  const env = node24Environment();
  const started = Date.now();
  await runLogged('code-server', 'npm', [
    'install', '--no-audit', '--no-fund', '--no-update-notifier', `code-server@${CODE_SERVER_VERSION}`,
  ], { cwd: CODE_SERVER_PREFIX, env });

  const check = spawnSync(NODE_BIN, [CODE_SERVER_ENTRY, '--version'], { encoding: 'utf8', env });
  if (check.status !== 0 || !check.stdout.includes(CODE_SERVER_VERSION)) {
    throw new ToolsError(
      `code-server installed, but "${relative(NODE_BIN)} ${relative(CODE_SERVER_ENTRY)} --version" failed:\n` +
      `${(check.stderr || check.stdout || '').trim()}`,
    );
  }
  const seconds = Math.round((Date.now() - started) / 1000);
  fs.writeFileSync(CODE_SERVER_MARKER, `${JSON.stringify({
    version: CODE_SERVER_VERSION,
    node: nodeVersion(NODE_BIN),
    installSeconds: seconds,
  }, null, 2)}\n`);
  say(`code-server: ${CODE_SERVER_VERSION} installed in ${seconds} s`);
}

function checkHarnessPackages() {
  const missing = HARNESS_PACKAGES.filter((name) => {
    try {
      require.resolve(`${name}/package.json`, { paths: [ROOT] });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) {
    throw new ToolsError(`Missing npm packages in node_modules: ${missing.join(', ')}. Run "npm install" in ${ROOT}.`);
  }
}

function checkChromium() {
  const chromium = toolPaths().chromium;
  if (!fs.existsSync(chromium)) {
    throw new ToolsError(`Chromium not found at ${chromium}. Install Debian's chromium package or set SFT_CHROMIUM.`);
  }
}

// Two test runs that start at once must not install into the same folders.
async function acquireLock() {
  fs.mkdirSync(TOOLS_DIR, { recursive: true });
  const deadline = Date.now() + LOCK_WAIT_MS;
  let announced = false;

  for (;;) {
    try {
      fs.mkdirSync(LOCK_DIR);
      fs.writeFileSync(path.join(LOCK_DIR, 'pid'), String(process.pid));
      return () => fs.rmSync(LOCK_DIR, { recursive: true, force: true });
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
    }

    const owner = Number(readOptional(path.join(LOCK_DIR, 'pid')));
    if (owner && !isRunning(owner)) {
      fs.rmSync(LOCK_DIR, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new ToolsError(`Timed out waiting for another install (pid ${owner}) holding ${relative(LOCK_DIR)}.`);
    }
    if (!announced) {
      say(`waiting for another install (pid ${owner}) to finish`);
      announced = true;
    }
    await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
  }
}

function readOptional(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function isRunning(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/**
 * Installs whatever is missing and returns the tool paths (see toolPaths()).
 * Throws a ToolsError naming the failed command.
 */
async function ensureTools() {
  const started = Date.now();
  checkHarnessPackages();
  const release = await acquireLock();
  try {
    await ensureDebianPackages();
    checkChromium();
    await ensureNode24();
    await ensureCodeServer();
  } finally {
    release();
  }
  say(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return toolPaths();
}

/** Returns a list of what ensureTools() would install; empty when everything is present. */
function missingTools() {
  const missing = [];
  try {
    checkHarnessPackages();
  } catch (error) {
    missing.push(error.message);
  }
  for (const name of missingDebianPackages()) missing.push(`Debian package ${name}`);
  const version = nodeVersion(NODE_BIN);
  if (!version || !version.startsWith(`v${NODE_MAJOR}.`)) missing.push(`Node ${NODE_MAJOR} in ${relative(NODE_PREFIX)}`);
  if (!installedCodeServer()) missing.push(`code-server ${CODE_SERVER_VERSION} in ${relative(CODE_SERVER_PREFIX)}`);
  return missing;
}

module.exports = { ensureTools, missingTools, toolPaths, node24Environment, ToolsError, CODE_SERVER_VERSION };

if (require.main === module) {
  if (process.argv.includes('--check')) {
    const missing = missingTools();
    for (const item of missing) console.log(`missing: ${item}`);
    if (missing.length === 0) console.log('All tools are installed.');
    process.exit(missing.length === 0 ? 0 : 1);
  }
  ensureTools().then(
    (paths) => {
      say(`node ${NODE_MAJOR}: ${relative(paths.node)}`);
      say(`code-server: ${relative(paths.codeServerEntry)}`);
      say(`chromium: ${paths.chromium}`);
    },
    (error) => {
      console.error(`[tools] ${error instanceof ToolsError ? error.message : error.stack}`);
      process.exit(1);
    },
  );
}
