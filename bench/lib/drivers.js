// Bundles the bench's small TypeScript drivers (bench/drivers/*.ts) with esbuild.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const DRIVERS_DIR = path.join(__dirname, '..', 'drivers');

/** Bundles every driver into `outDir` and returns a map from driver name to its .js path. */
async function buildDrivers(outDir) {
  const esbuild = require('esbuild');
  const names = fs.readdirSync(DRIVERS_DIR).filter((file) => file.endsWith('.ts')).map((file) => file.slice(0, -3));
  await esbuild.build({
    entryPoints: names.map((name) => path.join(DRIVERS_DIR, `${name}.ts`)),
    outdir: outDir,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
    logLevel: 'warning',
  });
  return Object.fromEntries(names.map((name) => [name, path.join(outDir, `${name}.js`)]));
}

module.exports = { buildDrivers };
