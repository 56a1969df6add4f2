// Starts and stops code-server (VS Code in the browser) from .tools/, installs a
// .vsix into it, and finds ports. Used by `npm start`, the extension-host tests
// and the UI tests; run `node scripts/tools.js` first.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const { toolPaths, node24Environment } = require('./tools');

const LOOPBACK_HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 60_000;
const READY_POLL_MS = 200;
const STOP_TIMEOUT_MS = 10_000;
// An extension host whose browser went away is kept this long; code-server's
// default of three hours would leave test processes running.
const RECONNECTION_GRACE_SECONDS = 5;

// User settings for a fresh user data folder: no welcome page, chat or
// background lookups that would cover the extension's views or reach out.
const DEFAULT_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'chat.disableAIFeatures': true,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'git.enabled': false,
  'github.gitAuthentication': false,
  // Otherwise each port the receiver opens brings a port-forwarding notification.
  'remote.autoForwardPorts': false,
};

/**
 * Writes User/settings.json under `userDataDir` when it does not exist yet,
 * so settings a person changed in the workbench survive a restart.
 */
function writeDefaultSettings(userDataDir, overrides = {}) {
  const file = path.join(userDataDir, 'User', 'settings.json');
  if (fs.existsSync(file)) return;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify({ ...DEFAULT_SETTINGS, ...overrides }, null, 2)}\n`);
}

/**
 * Returns the environment for code-server: Node 24 first on PATH, no public
 * extension gallery, and XDG folders under `xdgDir` so nothing goes to $HOME.
 */
function codeServerEnvironment(xdgDir) {
  const base = {};
  for (const [name, value] of Object.entries(process.env)) {
    // Inside a VS Code terminal these make code-server pass its arguments to
    // that VS Code instead of starting a server.
    if (name.startsWith('VSCODE_')) continue;
    base[name] = value;
  }
  return {
    ...node24Environment(base),
    EXTENSIONS_GALLERY: '{"serviceUrl":""}',
    XDG_CONFIG_HOME: path.join(xdgDir, 'config'),
    XDG_DATA_HOME: path.join(xdgDir, 'data'),
    XDG_CACHE_HOME: path.join(xdgDir, 'cache'),
  };
}

/** Resolves with a port that was free on `host` a moment ago. */
function findFreePort(host = LOOPBACK_HOST) {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Resolves true when `port` can be bound on `host`. */
function isPortFree(port, host = LOOPBACK_HOST) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/**
 * Installs a .vsix into the given user data and extensions folders.
 * Throws with code-server's output when the install fails.
 */
function installExtension({ vsix, userDataDir, extensionsDir, xdgDir }) {
  const tools = toolPaths();
  const args = [
    tools.codeServerEntry,
    '--user-data-dir', userDataDir,
    '--extensions-dir', extensionsDir,
    '--install-extension', vsix,
    '--force',
  ];
  const result = spawnSync(tools.node, args, { encoding: 'utf8', env: codeServerEnvironment(xdgDir) });
  const output = `${result.stdout || ''}${result.stderr || ''}`.trim();
  if (result.status !== 0 || !/successfully installed/i.test(output)) {
    throw new Error(`Installing ${vsix} into code-server failed (status ${result.status}):\n${output}`);
  }
  return output;
}

function httpGetStatus(url) {
  return new Promise((resolve) => {
    const request = http.get(url, (response) => {
      response.resume();
      resolve(response.statusCode);
    });
    request.on('error', () => resolve(null));
    request.setTimeout(2000, () => request.destroy());
  });
}

/**
 * Starts code-server on `host:port` and resolves once /healthz responds.
 *
 * Options: userDataDir, extensionsDir, xdgDir (all created if missing),
 * folder (opened in the workbench), port, host (default 127.0.0.1),
 * logFile (code-server's output; default userDataDir/code-server.log),
 * smokeTestDriver (lets the page run an extension test suite through the
 * `payload` URL parameter), settings (user settings for a new user data
 * folder, over DEFAULT_SETTINGS), extraArgs.
 *
 * Authentication is off, which is safe only because the server listens on a
 * loopback address; any other host is rejected.
 *
 * Resolves with { url, port, host, pid, logFile, exited, stop() }; `exited`
 * resolves with the exit status when the server ends, and `stop()` ends it and
 * every process it started.
 */
async function startCodeServer(options) {
  const host = options.host || LOOPBACK_HOST;
  if (host !== LOOPBACK_HOST && host !== 'localhost') {
    throw new Error(`code-server runs without authentication, so it binds to 127.0.0.1 only; got host "${host}".`);
  }
  const { userDataDir, extensionsDir, xdgDir, folder, port } = options;
  for (const dir of [userDataDir, extensionsDir, xdgDir]) fs.mkdirSync(dir, { recursive: true });
  writeDefaultSettings(userDataDir, options.settings);
  const logFile = options.logFile || path.join(userDataDir, 'code-server.log');

  const tools = toolPaths();
  if (!fs.existsSync(tools.codeServerEntry)) {
    throw new Error(`code-server is not installed at ${tools.codeServerEntry}. Run "node scripts/tools.js".`);
  }

  const args = [
    tools.codeServerEntry,
    '--bind-addr', `${host}:${port}`,
    '--auth', 'none',
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-proxy',
    '--disable-getting-started-override',
    '--reconnection-grace-time', String(RECONNECTION_GRACE_SECONDS),
    '--user-data-dir', userDataDir,
    '--extensions-dir', extensionsDir,
    '--ignore-last-opened',
    ...(options.smokeTestDriver ? ['--vscode-option', 'enable-smoke-test-driver'] : []),
    ...(options.extraArgs || []),
    ...(folder ? [folder] : []),
  ];

  const log = fs.openSync(logFile, 'a');
  // A process group of its own lets stop() end the extension hosts and other
  // helpers that code-server starts, not only code-server itself.
  const child = spawn(tools.node, args, {
    env: codeServerEnvironment(xdgDir),
    stdio: ['ignore', log, log],
    detached: true,
  });
  fs.closeSync(log);

  let exitStatus = null;
  const exited = new Promise((resolve) => {
    child.on('exit', (status, signal) => {
      exitStatus = status ?? signal;
      resolve(exitStatus);
    });
  });
  const killOnExit = () => killGroup(child.pid, 'SIGKILL');
  process.on('exit', killOnExit);

  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (exitStatus !== null) return;
    killGroup(child.pid, 'SIGTERM');
    const timer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
    // Extension hosts may outlive code-server's own exit by a moment.
    killGroup(child.pid, 'SIGKILL');
  };

  const url = `http://${host}:${port}/`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (exitStatus !== null) {
      throw new Error(`code-server exited (${exitStatus}) before it was ready. Its log, ${logFile}:\n${tail(logFile)}`);
    }
    if ((await httpGetStatus(`${url}healthz`)) === 200) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`code-server did not respond on ${url}healthz within ${READY_TIMEOUT_MS / 1000} s. Its log, ${logFile}:\n${tail(logFile)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
  }

  return { url, port, host, pid: child.pid, logFile, exited, stop };
}

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    // ESRCH: the group has already ended.
    if (error.code !== 'ESRCH') throw error;
  }
}

function tail(file, lineCount = 30) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lineCount).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Returns the newest code-server session log folder under a user data folder, or null. */
function latestLogDir(userDataDir) {
  const logsRoot = path.join(userDataDir, 'logs');
  if (!fs.existsSync(logsRoot)) return null;
  const sessions = fs.readdirSync(logsRoot).sort();
  return sessions.length > 0 ? path.join(logsRoot, sessions[sessions.length - 1]) : null;
}

module.exports = {
  LOOPBACK_HOST,
  startCodeServer,
  installExtension,
  findFreePort,
  isPortFree,
  codeServerEnvironment,
  latestLogDir,
  writeDefaultSettings,
  DEFAULT_SETTINGS,
};
