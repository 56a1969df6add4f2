// Runs every compiled test file under out/test with Node's built-in test runner.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

function findTests(dir) {
  const found = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name === 'e2e' || entry.name === 'suite') continue;
      found.push(...findTests(full));
    } else if (entry.name.endsWith('.test.js')) {
      found.push(full);
    }
  }
  return found;
}

const root = path.join(__dirname, '..', 'out', 'test');
const filter = process.argv.slice(2);
let files = findTests(root).sort();
if (filter.length > 0) {
  files = files.filter((f) => filter.some((word) => f.includes(word)));
}
if (files.length === 0) {
  console.error(`No test files found under ${root}. Run "npm run compile-tests" first.`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
