// Bundles the extension, the command-line program and the webview scripts.
'use strict';
const esbuild = require('esbuild');
const fs = require('node:fs');
const path = require('node:path');

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

/** @type {import('esbuild').BuildOptions[]} */
const targets = [
  {
    entryPoints: ['src/extension.ts'],
    outfile: 'dist/extension.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
  },
  {
    entryPoints: ['src/cli/main.ts'],
    outfile: 'dist/cli.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
  },
];

// Webview entry points are optional until the webview front end exists.
for (const name of ['login', 'download', 'tools']) {
  const entry = path.join('webview-ui', `${name}.ts`);
  if (fs.existsSync(entry)) {
    targets.push({
      entryPoints: [entry],
      outfile: `media/${name}.js`,
      platform: 'browser',
      format: 'iife',
      target: 'es2022',
    });
  }
}

async function main() {
  const common = {
    bundle: true,
    minify: production,
    sourcemap: !production,
    logLevel: 'warning',
  };
  const existing = targets.filter((t) => fs.existsSync(t.entryPoints[0]));
  if (watch) {
    const contexts = await Promise.all(existing.map((t) => esbuild.context({ ...common, ...t })));
    await Promise.all(contexts.map((c) => c.watch()));
    return;
  }
  await Promise.all(existing.map((t) => esbuild.build({ ...common, ...t })));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
