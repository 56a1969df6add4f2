// `npm run test:e2e [words...]`: packages the extension, installs code-server
// and its tools on first run, compiles test/e2e and runs its journeys with
// Node's test runner, one file at a time. Each file starts its own code-server
// with the packaged .vsix. Words filter the test files by path.
//
// Failed journeys leave a screenshot and logs in test-results/e2e/.
// Environment: SFT_DOC_SCREENSHOTS=0 skips writing docs/images/.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ensureTools, ToolsError } = require('./tools');
const { packageExtension } = require('./package');

const ROOT = path.resolve(__dirname, '..');
const COMPILED_DIR = path.join(ROOT, 'out', 'test', 'e2e');
const RESULTS_DIR = path.join(ROOT, 'test-results', 'e2e');

function say(message) {
  console.log(`[test:e2e] ${message}`);
}

function findTests(dir) {
  if (!fs.existsSync(dir)) return [];
  const found = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...findTests(full));
    else if (entry.name.endsWith('.test.js')) found.push(full);
  }
  return found.sort();
}

function compile() {
  // Output of deleted sources would otherwise still run.
  fs.rmSync(COMPILED_DIR, { recursive: true, force: true });
  const tsc = require.resolve('typescript/bin/tsc', { paths: [ROOT] });
  const result = spawnSync(process.execPath, [tsc, '-p', 'test/e2e/tsconfig.json'], { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) {
    throw new Error(`Compiling test/e2e failed: "tsc -p test/e2e/tsconfig.json" exited with status ${result.status}.`);
  }
}

async function main() {
  const started = Date.now();

  say('packaging the extension');
  const packaged = await packageExtension();
  // A private copy, because another build may rewrite the packaged file
  // while the journeys install it.
  const vsix = path.join(os.tmpdir(), `sft-e2e-${process.pid}-${path.basename(packaged)}`);
  fs.copyFileSync(packaged, vsix);
  process.on('exit', () => fs.rmSync(vsix, { force: true }));
  say('compiling test/e2e');
  compile();
  await ensureTools();

  const filter = process.argv.slice(2);
  let files = findTests(COMPILED_DIR);
  if (filter.length > 0) files = files.filter((file) => filter.some((word) => file.includes(word)));
  if (files.length === 0) {
    throw new Error(`No journey files under ${path.relative(ROOT, COMPILED_DIR)}${filter.length ? ` match ${filter.join(' ')}` : ''}.`);
  }

  fs.rmSync(RESULTS_DIR, { recursive: true, force: true });
  say(`running ${files.length} file(s)`);
  const result = spawnSync(
    process.execPath,
    ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files],
    { cwd: ROOT, stdio: 'inherit', env: { ...process.env, SFT_VSIX: vsix } },
  );

  const status = result.status ?? 1;
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  say(`${status === 0 ? 'passed' : `failed (status ${status}); screenshots and logs in test-results/e2e`} in ${seconds} s`);
  return status;
}

main().then(
  (status) => process.exit(status),
  (error) => {
    console.error(`[test:e2e] ${error instanceof ToolsError ? error.message : error.stack || error}`);
    process.exit(1);
  },
);
