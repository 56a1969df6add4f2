/**
 * Folders of the UI test harness, and the plain JavaScript modules in scripts/
 * that it shares with `npm start` and the extension-host test runner.
 */
import * as path from 'node:path';
import type * as BrowserModule from '../../scripts/browser';
import type * as CodeServerModule from '../../scripts/code-server';
import type * as PackageModule from '../../scripts/package';

/** The repository root; this file runs compiled as out/test/e2e/paths.js. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

/** Where failed tests leave their screenshot and logs. */
export const RESULTS_DIR = path.join(REPO_ROOT, 'test-results', 'e2e');

/** Where the suite writes the screenshots that the documentation shows. */
export const DOC_IMAGES_DIR = path.join(REPO_ROOT, 'docs', 'images');

// Loaded from scripts/ at run time, because tsc compiles only the types
// above into out/, not the modules themselves.
function loadScript<T>(name: string): T {
  return require(path.join(REPO_ROOT, 'scripts', `${name}.js`)) as T;
}

export const codeServer = loadScript<typeof CodeServerModule>('code-server');
export const browser = loadScript<typeof BrowserModule>('browser');
export const packaging = loadScript<typeof PackageModule>('package');
