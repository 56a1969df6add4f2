// Loads an extension bundle with the `vscode` stub and times its activation, in a fresh process.
// Usage: node activate-driver.js BUNDLE EXTENSION_DIR STORAGE_DIR
// Prints JSON: { loadMs, activateMs, totalMs }.
'use strict';
const Module = require('node:module');
const { createContext, createVscodeStub } = require('./vscode-stub');

async function main() {
  const [bundle, extensionDir, storageDir] = process.argv.slice(2);
  const stub = createVscodeStub();
  const resolve = Module._resolveFilename;
  Module._resolveFilename = function resolveVscode(request, ...rest) {
    return request === 'vscode' ? 'vscode' : resolve.call(this, request, ...rest);
  };
  require.cache.vscode = { id: 'vscode', filename: 'vscode', loaded: true, exports: stub };
  const context = createContext(extensionDir, storageDir);

  // Timed like VS Code's activation: loading the main module, then activate() until it returns.
  const started = process.hrtime.bigint();
  const extension = require(bundle);
  const loaded = process.hrtime.bigint();
  await extension.activate(context);
  const activated = process.hrtime.bigint();

  const ms = (from, to) => Number(to - from) / 1e6;
  process.stdout.write(`${JSON.stringify({ loadMs: ms(started, loaded), activateMs: ms(loaded, activated), totalMs: ms(started, activated) })}\n`);
  for (const disposable of context.subscriptions) {
    disposable?.dispose?.();
  }
  await extension.deactivate?.();
  // Timers or a started receiver could keep the process alive; activation is measured.
  process.exit(0);
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exit(1);
});
