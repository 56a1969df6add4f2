// Workload 2: peak memory of `sft encrypt` and `sft decrypt` for small and large files.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { measureShell, shellQuote } = require('../lib/measure');
const { removeQuietly, writeRandomFile, writeSparseFile } = require('../lib/files');
const { runRounds, summarize } = require('../lib/stats');
const { rssCell, size, table, wallCell, formatRuns } = require('../lib/report');

/** How far the largest file's peak memory may exceed the smallest file's. */
const TARGET_MAX_GROWTH = 0.1;

function commandLines(ctx, input) {
  const { secrets } = ctx;
  const sft = `${shellQuote(ctx.node)} ${shellQuote(ctx.sftBin)}`;
  const encrypt = `${sft} encrypt ${shellQuote(input)} -o - --recipient ${shellQuote(secrets.sftPublicKey)}`;
  const decrypt = `${sft} decrypt - -o - --identity ${shellQuote(secrets.sftPrivateKey)} --identity-passphrase-file ${shellQuote(secrets.identityPassphraseFile)}`;
  return {
    encrypt: `{time} ${encrypt} > /dev/null`,
    // The envelope streams from a second `sft encrypt`, so a 4 GiB envelope never touches the disk.
    decrypt: `${encrypt} | {time} ${decrypt} > /dev/null`,
  };
}

function growthText(growth) {
  return `${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)} %`;
}

function describeUsage(usage) {
  const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  return `RSS ${mib(usage.rss)}, V8 heap ${mib(usage.heapUsed)}, Buffers (arrayBuffers) ${mib(usage.arrayBuffers)}`;
}

/** Explains peak memory that grows from the small file to the large ones. */
function explainGrowth(sizes, samples, usage) {
  const smallest = sizes[0];
  const largest = sizes[sizes.length - 1];
  const buffers = (bytes) => `${(usage[bytes].arrayBuffers / 1024 / 1024).toFixed(0)} MiB`;
  const paragraph = ['Why the peak grows: every 1 MiB read and every sealed or opened chunk is a new Buffer, because node:crypto\'s `update()` always returns new memory, '
    + 'and V8 frees a Buffer\'s memory only when a garbage collection finds it unreachable. '
    + `The Buffers alive at once reach ${buffers(largest)} on the ${size(largest)} file against ${buffers(smallest)} on the ${size(smallest)} file. `
    + `The ${size(smallest)} file ends before enough garbage piles up to start a collection. `
    + 'With `--trace-gc`, the collections during a long run give "external memory pressure" as their reason, and a 16 MiB encrypt has none of them.'];
  if (sizes.length >= 3) {
    const lowest = (bytes) => summarize(samples.get(`sft encrypt ${size(bytes)}`), 'maxRssKiB').min / 1024;
    const middle = sizes[1];
    paragraph.push(`How much garbage is alive at the peak depends on when the collections happen, so the large files' peaks vary from run to run; `
      + `the lowest encrypt peaks are ${lowest(middle).toFixed(1)} MiB for ${size(middle)} and ${lowest(largest).toFixed(1)} MiB for ${size(largest)}.`);
  }
  paragraph.push('Staying within 10 % of the small file would need the buffers reused, which node:crypto\'s Cipher API does not allow for its output.');
  return paragraph.join(' ');
}

async function runWorkload(ctx) {
  const sizes = ctx.sizes.memoryBytes;
  const smallest = sizes[0];
  const largest = sizes[sizes.length - 1];
  ctx.log(`Workload 2: peak memory for ${sizes.map(size).join(', ')}`);
  // The smallest file contains random bytes; the larger ones are sparse, so they take no space.
  const inputs = sizes.map((bytes, i) => {
    const file = path.join(ctx.workDir, `memory-${bytes}.bin`);
    return i === 0 ? writeRandomFile(file, bytes) : writeSparseFile(file, bytes);
  });

  const contestants = [];
  for (const [i, bytes] of sizes.entries()) {
    const lines = commandLines(ctx, inputs[i]);
    for (const direction of ['encrypt', 'decrypt']) {
      contestants.push({ name: `sft ${direction} ${size(bytes)}`, run: () => measureShell(lines[direction]) });
    }
  }
  const samples = await runRounds(contestants, ctx.runs, ctx.log);

  // One more encrypt of the smallest and the largest file, sampling where the memory goes.
  const sampler = path.join(__dirname, '..', 'lib', 'memory-sampler.js');
  const usage = {};
  for (const [i, bytes] of [[0, smallest], [sizes.length - 1, largest]]) {
    const file = path.join(ctx.workDir, `memory-usage-${bytes}.json`);
    await measureShell(`{time} ${shellQuote(ctx.node)} -r ${shellQuote(sampler)} ${shellQuote(ctx.sftBin)} encrypt ${shellQuote(inputs[i])} -o - `
      + `--recipient ${shellQuote(ctx.secrets.sftPublicKey)} > /dev/null`, { env: { SFT_BENCH_MEMORY_FILE: file } });
    usage[bytes] = JSON.parse(fs.readFileSync(file, 'utf8'));
    removeQuietly(file);
  }
  removeQuietly(...inputs);

  const peakRows = [];
  const wallRows = [];
  const targets = [];
  for (const direction of ['encrypt', 'decrypt']) {
    const series = sizes.map((bytes) => samples.get(`sft ${direction} ${size(bytes)}`));
    const smallPeak = summarize(series[0], 'maxRssKiB').median;
    const largePeak = summarize(series[series.length - 1], 'maxRssKiB').median;
    const growth = largePeak / smallPeak - 1;
    peakRows.push([`sft ${direction}`, ...series.map(rssCell), growthText(growth)]);
    wallRows.push([`sft ${direction}`, ...series.map(wallCell)]);
    targets.push({
      target: `${direction}: peak memory for ${size(largest)} within ${TARGET_MAX_GROWTH * 100} % of ${size(smallest)}`,
      result: `${(largePeak / 1024).toFixed(1)} MiB vs ${(smallPeak / 1024).toFixed(1)} MiB (${growthText(growth)})`,
      met: growth <= TARGET_MAX_GROWTH,
    });
  }

  const markdown = [
    `## 2. Peak memory for files of ${sizes.map(size).join(', ')}`,
    '',
    `Maximum resident set size of the \`sft\` process, median and range of ${formatRuns(ctx.runs)}. Encrypt reads the file (random bytes for ${size(smallest)}, sparse files above) for an RSA recipient and writes the envelope to standard output, into /dev/null. `
      + 'Decrypt reads the envelope from a pipe fed by a second `sft encrypt`, so a large envelope never lands on disk, and writes the plaintext to /dev/null.',
    '',
    table(['command', ...sizes.map((bytes) => `peak RSS ${size(bytes)}`), `growth ${size(smallest)} → ${size(largest)}`], peakRows),
    '',
    table(['command', ...sizes.map((bytes) => `wall ${size(bytes)}`)], wallRows),
    '',
    `Largest \`process.memoryUsage()\` seen in one more encrypt, sampled every 10 ms (bench/lib/memory-sampler.js): `
      + `${size(smallest)}: ${describeUsage(usage[smallest])}; ${size(largest)}: ${describeUsage(usage[largest])}.`,
    ...(targets.every((target) => target.met) ? [] : ['', explainGrowth(sizes, samples, usage)]),
  ].join('\n');
  return { id: 2, markdown, targets };
}

module.exports = { runWorkload };
