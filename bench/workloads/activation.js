// Workload 7: extension activation time and the size of the bundled extension.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const { measure } = require('../lib/measure');
const { runRounds, summarize } = require('../lib/stats');
const { table } = require('../lib/report');

const TARGET_MAX_ACTIVATION_MS = 50;

/**
 * Bundles src/extension.ts as the published extension is bundled (`node esbuild.js
 * --production`: minified, no source map) into `outDir`, leaving dist/ alone.
 */
async function bundleExtension(ctx, outDir) {
  const esbuild = require('esbuild');
  const outfile = path.join(outDir, 'extension.js');
  await esbuild.build({
    entryPoints: [path.join(ctx.root, 'src', 'extension.ts')],
    outfile,
    bundle: true,
    minify: true,
    sourcemap: false,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
    logLevel: 'warning',
  });
  return outfile;
}

function formatMs(summary) {
  return `${summary.median.toFixed(1)} ms (${summary.min.toFixed(1)}–${summary.max.toFixed(1)})`;
}

async function runWorkload(ctx) {
  ctx.log('Workload 7: extension activation');
  const outDir = path.join(ctx.workDir, 'extension');
  fs.mkdirSync(outDir);
  const bundle = await bundleExtension(ctx, outDir);
  const driver = path.join(__dirname, '..', 'lib', 'activate-driver.js');

  const contestants = [{
    name: 'activate()',
    run: async (round) => {
      const storage = path.join(outDir, `storage-${round}`);
      const sample = await measure(ctx.node, [driver, bundle, ctx.root, storage]);
      const timing = JSON.parse(sample.stdout);
      // runRounds logs wallS; for this workload it is the activation, not the process.
      return { ...timing, wallS: timing.totalMs / 1000, maxRssKiB: sample.maxRssKiB };
    },
  }];
  const samples = (await runRounds(contestants, ctx.sizes.activationRuns, ctx.log)).get('activate()');

  const bytes = fs.statSync(bundle).size;
  const gzipBytes = zlib.gzipSync(fs.readFileSync(bundle), { level: 9 }).length;
  const total = summarize(samples, 'totalMs');
  const rows = [
    ['load the bundle (require)', formatMs(summarize(samples, 'loadMs'))],
    ['run `activate()`', formatMs(summarize(samples, 'activateMs'))],
    ['activation in all', formatMs(total)],
    ['bundle dist/extension.js, minified', `${(bytes / 1024).toFixed(0)} KiB (${(gzipBytes / 1024).toFixed(0)} KiB gzipped)`],
  ];
  const markdown = [
    '## 7. Extension activation',
    '',
    `The extension is bundled as for publishing (esbuild, minified) and loaded in a fresh Node.js process with a stand-in \`vscode\` module (bench/lib/vscode-stub.js) that accepts every call, ${ctx.sizes.activationRuns} times. `
      + 'The time runs from the start of `require()` of the bundle, as the extension host loads it on the activation event, to the return of `activate()`. '
      + 'The stand-in costs nearly nothing, so this is the extension\'s own share; VS Code adds its own work around it.',
    '',
    table(['step', 'median (min–max)'], rows),
  ].join('\n');
  const targets = [{ target: `activation under ${TARGET_MAX_ACTIVATION_MS} ms`, result: `${total.median.toFixed(1)} ms`, met: total.median < TARGET_MAX_ACTIVATION_MS }];
  return { id: 7, markdown, targets };
}

module.exports = { runWorkload };
