// Packages the extension into a .vsix with @vscode/vsce and checks what went in.
// vsce runs the "vscode:prepublish" script first, which builds the minified
// bundle (node esbuild.js --production). .vscodeignore selects the files.
//
// Usage: node scripts/package.js   writes secure-file-transfer-VERSION.vsix in the repository root
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');

// Paths that must never reach the .vsix: sources, tests, build output for
// tests, source maps, and the tools and state that the UI tests install.
const FORBIDDEN_IN_VSIX = [
  /^src\//,
  /^test\//,
  /^out\//,
  /^webview-ui\//,
  /^scripts\//,
  /^node_modules\//,
  /^\.(tools|e2e)\//,
  /\.ts$/,
  /\.map$/,
];

// Files the extension cannot start without.
const REQUIRED_IN_VSIX = ['package.json', 'dist/extension.js'];

function vsixPath() {
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  return path.join(ROOT, `${manifest.name}-${manifest.version}.vsix`);
}

/** Returns the files that .vscodeignore lets into the .vsix, relative to the repository root. */
async function listVsixFiles() {
  const vsce = require('@vscode/vsce');
  return vsce.listFiles({ cwd: ROOT, dependencies: false });
}

/** Throws when the file list misses a required file or contains a forbidden one. */
function checkVsixFiles(files) {
  const forbidden = files.filter((file) => FORBIDDEN_IN_VSIX.some((pattern) => pattern.test(file)));
  if (forbidden.length > 0) {
    throw new Error(`The .vsix would contain sources or tests: ${forbidden.join(', ')}. Exclude them in .vscodeignore.`);
  }
  const missing = REQUIRED_IN_VSIX.filter((file) => !files.includes(file));
  if (missing.length > 0) {
    throw new Error(`The .vsix would miss ${missing.join(', ')}. Run "npm run build" and check .vscodeignore.`);
  }
}

/**
 * Builds the production bundle, writes the .vsix and returns its absolute path.
 * The vsce API chdirs nowhere, so the repository root is passed as cwd.
 */
async function packageExtension() {
  const vsce = require('@vscode/vsce');
  const packagePath = vsixPath();

  await vsce.createVSIX({
    cwd: ROOT,
    packagePath,
    dependencies: false,
    // The repository and licence file are not required for a local .vsix; without
    // these two options vsce prompts on the terminal and blocks a script.
    allowMissingRepository: true,
    skipLicense: true,
    // Rewriting README links needs a repository URL; the README's relative
    // links are kept as they are.
    rewriteRelativeLinks: false,
  });

  // createVSIX runs the prepublish build, so the file list is taken afterwards.
  try {
    checkVsixFiles(await listVsixFiles());
  } catch (error) {
    fs.rmSync(packagePath, { force: true });
    throw error;
  }
  return packagePath;
}

module.exports = { packageExtension, listVsixFiles, checkVsixFiles, vsixPath };

if (require.main === module) {
  packageExtension().then(
    (file) => console.log(`Packaged ${path.relative(process.cwd(), file)}`),
    (error) => {
      console.error(`Packaging failed: ${error instanceof Error ? error.message : error}`);
      process.exit(1);
    },
  );
}
