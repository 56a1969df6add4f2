// Workload 2: peak memory of `sft encrypt` and `sft decrypt` for a small and a large file.
'use strict';
const path = require('node:path');
const { measureShell, shellQuote } = require('../lib/measure');
const { removeQuietly, writeRandomFile, writeSparseFile } = require('../lib/files');
const { runRounds, summarize } = require('../lib/stats');
const { rssCell, size, table, wallCell } = require('../lib/report');

/** How far the large file's peak memory may exceed the small file's. */
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

async function runWorkload(ctx) {
  const { memorySmallBytes: smallBytes, memoryLargeBytes: largeBytes } = ctx.sizes;
  ctx.log(`Workload 2: peak memory for ${size(smallBytes)} and ${size(largeBytes)}`);
  const small = writeRandomFile(path.join(ctx.workDir, 'memory-small.bin'), smallBytes);
  const large = writeSparseFile(path.join(ctx.workDir, 'memory-large.bin'), largeBytes);
  const lines = { small: commandLines(ctx, small), large: commandLines(ctx, large) };

  const contestants = [];
  for (const [label, bytes] of [['small', smallBytes], ['large', largeBytes]]) {
    for (const direction of ['encrypt', 'decrypt']) {
      contestants.push({ name: `sft ${direction} ${size(bytes)}`, run: () => measureShell(lines[label][direction]) });
    }
  }
  const samples = await runRounds(contestants, ctx.runs, ctx.log);
  removeQuietly(small, large);

  const rows = [];
  const targets = [];
  for (const direction of ['encrypt', 'decrypt']) {
    const smallSamples = samples.get(`sft ${direction} ${size(smallBytes)}`);
    const largeSamples = samples.get(`sft ${direction} ${size(largeBytes)}`);
    const smallPeak = summarize(smallSamples, 'maxRssKiB').median;
    const largePeak = summarize(largeSamples, 'maxRssKiB').median;
    const growth = largePeak / smallPeak - 1;
    rows.push([`sft ${direction}`, rssCell(smallSamples), rssCell(largeSamples), `${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)} %`, wallCell(smallSamples), wallCell(largeSamples)]);
    targets.push({
      target: `${direction}: peak memory for ${size(largeBytes)} within ${TARGET_MAX_GROWTH * 100} % of ${size(smallBytes)}`,
      result: `${(largePeak / 1024).toFixed(1)} MiB vs ${(smallPeak / 1024).toFixed(1)} MiB (${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)} %)`,
      met: growth <= TARGET_MAX_GROWTH,
    });
  }

  const markdown = [
    `## 2. Peak memory, ${size(smallBytes)} and ${size(largeBytes)}`,
    '',
    `Maximum resident set size of the \`sft\` process, median of ${ctx.runs} runs. Encrypt reads the file (random bytes for ${size(smallBytes)}, a sparse file for ${size(largeBytes)}) for an RSA recipient and writes the envelope to standard output, into /dev/null. `
      + 'Decrypt reads the envelope from a pipe fed by a second `sft encrypt`, so the large envelope never lands on disk, and writes the plaintext to /dev/null.',
    '',
    table(['command', `peak RSS ${size(smallBytes)}`, `peak RSS ${size(largeBytes)}`, 'growth', `wall ${size(smallBytes)}`, `wall ${size(largeBytes)}`], rows),
  ].join('\n');
  return { id: 2, markdown, targets };
}

module.exports = { runWorkload };
