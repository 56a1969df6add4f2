// Workload 4: a folder of many 4 KiB files, `sft send` against `scp -r`.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { measure, run } = require('../lib/measure');
const { removeQuietly } = require('../lib/files');
const { listEntries, sendCommand, startFreshReceiver, storedPlaintextSha256 } = require('../lib/receiver');
const { runRounds, summarize } = require('../lib/stats');
const { formatCount, formatRuns, ratio, rssCell, seconds, table, wallCell } = require('../lib/report');
const { scpContestant } = require('./transfer');

/** The default iteration count of `sft send` (DEFAULT_PBKDF2_ITERATIONS in src/crypto/stanza.ts). */
const DEFAULT_PBKDF2_ITERATIONS = 600000;

/** How many times faster than `scp -r` sending many small files should be. */
const TARGET_SPEEDUP = 2;
/** Two folder sizes sent once to estimate `sft send`'s fixed cost and time per file (smaller in a quick run). */
const PROBE_FILES = [10, 500];
const QUICK_PROBE_FILES = [5, 100];
/** Stored files decrypted and compared after the first run. */
const HASH_CHECKED_FILES = 3;

function createFolder(dir, count, bytes) {
  fs.mkdirSync(dir);
  const width = String(count).length;
  for (let i = 0; i < count; i++) {
    fs.writeFileSync(path.join(dir, `file-${String(i).padStart(width, '0')}.bin`), crypto.randomBytes(bytes));
  }
  return dir;
}

/** Makes a folder of hard links to the first `count` files of `source`. */
function linkSubset(source, dir, count) {
  fs.mkdirSync(dir);
  for (const name of fs.readdirSync(source).sort().slice(0, count)) {
    fs.linkSync(path.join(source, name), path.join(dir, name));
  }
  return dir;
}

async function verifySmallFiles(ctx, storeDir, source, count, bytes) {
  const entries = await listEntries(ctx, storeDir);
  if (entries.length !== count || entries.some((entry) => entry.plaintextSize !== bytes)) {
    throw new Error(`The receiver stored ${entries.length} files (expected ${count} of ${bytes} bytes each).`);
  }
  for (const entry of entries.slice(0, HASH_CHECKED_FILES)) {
    const original = crypto.createHash('sha256').update(fs.readFileSync(path.join(source, entry.displayName))).digest('hex');
    if ((await storedPlaintextSha256(ctx, storeDir, entry)) !== original) {
      throw new Error(`Stored entry ${entry.id} (${entry.displayName}) decrypts to other bytes than the file sent.`);
    }
  }
}

function sftFolderContestant(ctx, template, folder, count, bytes, name) {
  return {
    name,
    run: async (round) => {
      const receiver = await startFreshReceiver(ctx, template, `store-small-${count}-${round}`);
      let sample;
      try {
        const [command, ...args] = sendCommand(ctx, receiver.link, [folder]);
        sample = await measure(command, args);
      } finally {
        const finished = await receiver.finish();
        if (sample) {
          sample.receiverRssKiB = finished.peakRssKiB;
          sample.receiverCpuS = finished.cpuS;
        }
      }
      if (round === 0) {
        await verifySmallFiles(ctx, receiver.storeDir, folder, count, bytes);
      }
      receiver.remove();
      return sample;
    },
  };
}

function scpFolderContestant(ctx, sshd, folder, count, name) {
  return scpContestant(ctx, sshd, folder, name, async (copy) => {
    const names = fs.readdirSync(copy);
    if (names.length !== count) {
      throw new Error(`scp -r copied ${names.length} files instead of ${count}.`);
    }
    for (const file of names.slice(0, HASH_CHECKED_FILES)) {
      await run('cmp', ['-s', path.join(folder, file), path.join(copy, file)]);
    }
  });
}

/**
 * Returns the CPU seconds of one PBKDF2-HMAC-SHA256 with the default 600,000 iterations in
 * this process, the least of three, so other load on the machine does not inflate it.
 */
function timePbkdf2() {
  let least = Infinity;
  for (let i = 0; i < 3; i++) {
    const before = process.cpuUsage();
    crypto.pbkdf2Sync('bench passphrase', crypto.randomBytes(16), DEFAULT_PBKDF2_ITERATIONS, 32, 'sha256');
    const used = process.cpuUsage(before);
    least = Math.min(least, (used.user + used.system) / 1e6);
  }
  return least;
}

/** Explains the time per file from the CPU both sides used, all figures per file in seconds. */
function explainSmallFiles({ ours, theirs, senderCpu, receiverCpu, kdfS }) {
  const ms = (value) => `${(value * 1000).toFixed(2)} ms`;
  return 'Where the time goes: for each file, `sft send` used '
    + `${ms(senderCpu)} of CPU time and \`sft receive\` ${receiverCpu === undefined ? 'an unknown amount' : ms(receiverCpu)}, `
    + `against ${ms(ours)} of wall time per file for the send and ${ms(theirs)} for \`scp -r\`. `
    + 'Both processes share the machine\'s two cores, so their CPU time sets the pace. '
    + 'The sender reads each file and seals a new envelope for it: a random file key, three HKDF derivations, RSA-OAEP of the wrapped key, AES-256-GCM of the metadata and the payload, and a SHA-256 of the envelope. '
    + 'The receiver writes the envelope and a sidecar with its entry, flushes both with fsync, renames the envelope into place and flushes the folder. '
    + 'Each of those file-system calls is a round trip to the thread pool of Node.js. '
    + '`scp -r` writes each file once and flushes nothing. '
    + `The passphrase is derived once per send (PBKDF2 with ${DEFAULT_PBKDF2_ITERATIONS.toLocaleString('en-US')} iterations, ${(kdfS * 1000).toFixed(0)} ms of CPU here), `
    + 'and offers of small files go out without waiting for the answers to earlier ones (docs/PROTOCOL.md, "Sender").';
}

async function runWorkload(ctx) {
  const { smallFileCount: count, smallFileBytes: bytes } = ctx.sizes;
  const budgetS = ctx.quick ? 3 : 40;
  ctx.log(`Workload 4: ${formatCount(count)} files of ${bytes} bytes`);
  const template = await ctx.templateStore();
  const sshd = await ctx.sshd();
  const folder = createFolder(path.join(ctx.workDir, `small-files-${count}`), count, bytes);

  // Estimate the fixed cost (start, login, key derivation) and the time per file from two
  // folder sizes, then send as many files as fit in the time budget.
  const probeCounts = ctx.quick ? QUICK_PROBE_FILES : PROBE_FILES;
  const probes = [];
  for (const probeCount of probeCounts) {
    const probeFolder = linkSubset(folder, path.join(ctx.workDir, `small-files-${probeCount}`), probeCount);
    const probe = await sftFolderContestant(ctx, template, probeFolder, probeCount, bytes, 'probe').run(1);
    probes.push({ count: probeCount, wallS: probe.wallS });
    removeQuietly(probeFolder);
  }
  const [small, large] = probes;
  const perFileS = Math.max(1e-4, (large.wallS - small.wallS) / (large.count - small.count));
  const fixedS = Math.max(0, small.wallS - perFileS * small.count);
  const sentCount = Math.max(large.count, Math.min(count, Math.floor((budgetS - fixedS) / perFileS)));
  ctx.log(`  sft send takes about ${(perFileS * 1000).toFixed(2)} ms per file after ${fixedS.toFixed(2)} s to start; sending ${formatCount(sentCount)} of ${formatCount(count)}`);
  const subset = sentCount === count ? folder : linkSubset(folder, path.join(ctx.workDir, `small-files-${sentCount}`), sentCount);

  const sftName = `sft send, ${formatCount(sentCount)} files`;
  const scpSubsetName = `scp -r, ${formatCount(sentCount)} files`;
  const scpFullName = `scp -r, ${formatCount(count)} files`;
  const contestants = [sftFolderContestant(ctx, template, subset, sentCount, bytes, sftName), scpFolderContestant(ctx, sshd, subset, sentCount, scpSubsetName)];
  if (sentCount !== count) {
    contestants.push(scpFolderContestant(ctx, sshd, folder, count, scpFullName));
  }
  const samples = await runRounds(contestants, ctx.runs, ctx.log);
  removeQuietly(folder, subset);

  const ours = summarize(samples.get(sftName), 'wallS').median;
  const theirs = summarize(samples.get(scpSubsetName), 'wallS').median;
  const rows = [
    [sftName, wallCell(samples.get(sftName)), `${((ours / sentCount) * 1000).toFixed(1)} ms`, rssCell(samples.get(sftName))],
    [scpSubsetName, wallCell(samples.get(scpSubsetName)), `${((theirs / sentCount) * 1000).toFixed(2)} ms`, rssCell(samples.get(scpSubsetName))],
  ];
  let projection = '';
  if (sentCount !== count) {
    const full = summarize(samples.get(scpFullName), 'wallS').median;
    rows.push([scpFullName, wallCell(samples.get(scpFullName)), `${((full / count) * 1000).toFixed(2)} ms`, rssCell(samples.get(scpFullName))]);
    projection = `\`sft send\` took about ${(perFileS * 1000).toFixed(2)} ms per file in a first estimate, so all ${formatCount(count)} files would take about ${seconds(fixedS + perFileS * count)}; `
      + `it sent the first ${formatCount(sentCount)} files to keep the bench within ${budgetS} s per run. Projected to ${formatCount(count)} files from the measured median, `
      + `\`sft send\` would take ${seconds((ours / sentCount) * count)} against ${seconds(full)} for \`scp -r\` (${ratio((ours / sentCount) * count, full)}).`;
  }
  const speedup = theirs / ours;
  const kdfS = timePbkdf2();
  const sftSamples = samples.get(sftName);
  const perFile = (field) => {
    const median = summarize(sftSamples, field).median;
    return median === undefined || Number.isNaN(median) ? undefined : median / sentCount;
  };
  const senderCpu = summarize(sftSamples.map((sample) => ({ cpuS: sample.userS + sample.sysS })), 'cpuS').median / sentCount;
  const markdown = [
    `## 4. Send a folder of ${formatCount(count)} files of ${bytes / 1024} KiB`,
    '',
    `Random files in one folder; \`sft send FOLDER\` against \`scp -r FOLDER\`, both on one connection to 127.0.0.1, ${formatRuns(ctx.runs)}. The first run checks the file count and a few files' contents.`,
    '',
    table(['command', 'median wall (min–max)', 'per file', 'peak RSS'], rows),
    '',
    `Ratio of medians on the same ${formatCount(sentCount)} files, \`sft send\` over \`scp -r\`: ${ratio(ours, theirs)}.`,
    ...(projection ? ['', projection] : []),
    ...(speedup >= TARGET_SPEEDUP ? [] : ['', explainSmallFiles({ ours: ours / sentCount, theirs: theirs / sentCount, senderCpu, receiverCpu: perFile('receiverCpuS'), kdfS })]),
  ].join('\n');
  const targets = [{
    target: `many small files at least ${TARGET_SPEEDUP}× as fast as \`scp -r\``,
    result: `${speedup >= 1 ? `${speedup.toFixed(2)}× as fast` : `${(1 / speedup).toFixed(2)}× slower`} (${formatCount(sentCount)} files)`,
    met: speedup >= TARGET_SPEEDUP,
  }];
  return { id: 4, markdown, targets };
}

module.exports = { runWorkload };
