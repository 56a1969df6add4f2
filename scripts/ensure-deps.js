// Installs the npm packages on a fresh clone, so `npm start` and `npm test` work as the
// first commands run. It does nothing when node_modules matches package-lock.json.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const lock = path.join(root, 'package-lock.json');
const installed = path.join(root, 'node_modules', '.package-lock.json');

function upToDate() {
  if (!fs.existsSync(installed)) return false;
  return fs.statSync(installed).mtimeMs >= fs.statSync(lock).mtimeMs;
}

if (!upToDate()) {
  console.log('[deps] Installing npm packages (npm ci)...');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error('[deps] "npm ci" failed. Check the npm registry is reachable, then run "npm ci" by hand to see the error.');
    process.exit(result.status ?? 1);
  }
}
