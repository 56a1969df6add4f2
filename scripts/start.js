// `npm start`: builds and packages the extension, installs code-server and its
// tools on first run, installs the .vsix into a code-server whose state lives
// in .e2e/, opens a sample workspace and serves it on 127.0.0.1 until Ctrl+C.
//
// Environment: SFT_PORT sets the port (default 8080); when that port is busy,
// a free one is used instead.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { ensureTools } = require('./tools');
const { packageExtension } = require('./package');
const { startCodeServer, installExtension, findFreePort, isPortFree, LOOPBACK_HOST } = require('./code-server');

const ROOT = path.resolve(__dirname, '..');
const STATE_DIR = path.join(ROOT, '.e2e');
const DIRS = {
  userDataDir: path.join(STATE_DIR, 'user-data'),
  extensionsDir: path.join(STATE_DIR, 'extensions'),
  xdgDir: path.join(STATE_DIR, 'xdg'),
  workspace: path.join(STATE_DIR, 'workspace'),
};
const DEFAULT_PORT = 8080;

const SAMPLE_FILES = {
  'README.md':
    '# Sample workspace\n\n' +
    'Right-click a file in the Explorer and choose "Send Securely..." to send it\n' +
    'to a receiver. Run "Secure File Transfer: Start Receiver" from the command\n' +
    'palette (F1) to receive files in this window.\n',
  'notes.txt': 'A short text file to send.\n',
  'reports/summary.csv': 'month,files,bytes\n2025-01,12,48213\n2025-02,9,30117\n',
  'reports/data.bin': null,
};

function say(message) {
  console.log(`[start] ${message}`);
}

function createSampleWorkspace() {
  if (fs.existsSync(DIRS.workspace)) return;
  for (const [name, text] of Object.entries(SAMPLE_FILES)) {
    const file = path.join(DIRS.workspace, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // The binary sample has fixed bytes so a received copy can be compared.
    const content = text ?? Buffer.from(Array.from({ length: 64 * 1024 }, (_, i) => (i * 31) % 256));
    fs.writeFileSync(file, content);
  }
  say(`created the sample workspace ${path.relative(ROOT, DIRS.workspace)}`);
}

function parsePort(value) {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`SFT_PORT must be a port number from 1 to 65535; got "${value}".`);
  }
  return port;
}

async function choosePort(requestedPort) {
  if (await isPortFree(requestedPort)) return requestedPort;

  const port = await findFreePort();
  say(`port ${requestedPort} is busy, using ${port} instead`);
  return port;
}

async function main() {
  // Checked first, so a typing error fails before the slow steps.
  const requestedPort = process.env.SFT_PORT ? parsePort(process.env.SFT_PORT) : DEFAULT_PORT;

  say('packaging the extension');
  const vsix = await packageExtension();

  await ensureTools();

  say(`installing ${path.basename(vsix)} into code-server`);
  installExtension({ vsix, ...DIRS });
  createSampleWorkspace();

  const port = await choosePort(requestedPort);
  const server = await startCodeServer({ ...DIRS, folder: DIRS.workspace, port, host: LOOPBACK_HOST });

  console.log('');
  say(`VS Code with Secure File Transfer is running at ${server.url}`);
  say('It listens on 127.0.0.1 only: authentication is off, which is safe only because no other machine can reach it.');
  say(`code-server log: ${path.relative(ROOT, server.logFile)}`);
  say('Press Ctrl+C to stop.');

  let stopping = false;
  const shutdown = async (signal) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping code-server`);
    await server.stop();
    say('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));

  const status = await server.exited;
  if (!stopping) {
    console.error(`[start] code-server exited unexpectedly (${status}); see ${server.logFile}`);
    process.exit(1);
  }
}

main().catch((error) => {
  // Failures of a step have messages that name the fix; a programming
  // error needs its stack.
  const isBug = error instanceof TypeError || error instanceof ReferenceError || error instanceof SyntaxError;
  console.error(`[start] ${isBug || !(error instanceof Error) ? error.stack || String(error) : error.message}`);
  process.exit(1);
});
