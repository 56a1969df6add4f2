// Workload 3: one large file over loopback, `sft send` to `sft receive` against scp to sshd.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { measure, measureShell, run, shellQuote } = require('../lib/measure');
const { removeQuietly, writeRandomFile } = require('../lib/files');
const { fileSha256, listEntries, sendCommand, startFreshReceiver, storedPlaintextSha256 } = require('../lib/receiver');
const { runRounds, summarize } = require('../lib/stats');
const { ratio, rssCell, size, table, throughputCell, wallCell } = require('../lib/report');

/**
 * Checks that a store contains exactly the expected files of the expected size, and that the
 * first `hashChecks` of them decrypt to the plaintext's SHA-256.
 */
async function verifyStore(ctx, storeDir, expected, hashChecks) {
  const entries = await listEntries(ctx, storeDir);
  if (entries.length !== expected.count) {
    throw new Error(`The receiver stored ${entries.length} files instead of ${expected.count}.`);
  }
  for (const [index, entry] of entries.entries()) {
    if (entry.plaintextSize !== expected.bytes) {
      throw new Error(`Stored entry ${entry.id} has ${entry.plaintextSize} bytes of plaintext instead of ${expected.bytes}.`);
    }
    if (index < hashChecks && (await storedPlaintextSha256(ctx, storeDir, entry)) !== expected.sha256) {
      throw new Error(`Stored entry ${entry.id} decrypts to other bytes than the file sent.`);
    }
  }
}

/** Returns the `sft send` contestant, which starts and stops a fresh receiver per run outside the timing. */
function sftContestant(ctx, template, paths, expected, name) {
  return {
    name,
    run: async (round) => {
      const receiver = await startFreshReceiver(ctx, template, `store-${name.replace(/\W+/g, '-')}-${round}`);
      let sample;
      try {
        const [command, ...args] = sendCommand(ctx, receiver.link, paths);
        sample = await measure(command, args);
      } finally {
        const finished = await receiver.finish();
        if (sample) sample.receiverRssKiB = finished.peakRssKiB;
      }
      await verifyStore(ctx, receiver.storeDir, expected, round === 0 ? 1 : 0);
      receiver.remove();
      return sample;
    },
  };
}

/** Returns the scp contestant, which copies `source` (`-r` for a folder) into a fresh folder through the bench's sshd. */
function scpContestant(ctx, sshd, source, name, verify) {
  return {
    name,
    run: async (round) => {
      const target = path.join(ctx.workDir, `scp-${name.replace(/\W+/g, '-')}-${round}`);
      fs.mkdirSync(target);
      const recursive = fs.statSync(source).isDirectory() ? ['-r'] : [];
      const sample = await measure('scp', ['-q', ...recursive, '-P', String(sshd.port), ...sshd.sshArgs, source, `${sshd.user}@127.0.0.1:${target}/`]);
      if (round === 0) {
        await verify(path.join(target, path.basename(source)));
      }
      removeQuietly(target);
      return sample;
    },
  };
}

/** Explains a send slower than scp, from a profile of this code on the bench machine. */
function explainTransfer() {
  return 'Why `sft send` is not faster: the sender does its work on one thread of one process. '
    + 'Node.js runs the payload sealing (AES-256-GCM), the SHA-256 of the envelope and the TLS record encryption (AES-256-GCM again) on the main thread. '
    + 'Sealed chunks go into data frames without a copy, but the file read and the TLS write each still copy every byte, while the receiver process stays mostly idle. '
    + '`scp` also runs one cipher (ChaCha20-Poly1305) in one process, but encrypts each byte once.';
}

async function runWorkload(ctx) {
  const bytes = ctx.sizes.transferBytes;
  ctx.log(`Workload 3: send ${size(bytes)} over loopback`);
  const template = await ctx.templateStore();
  const sshd = await ctx.sshd();
  const input = writeRandomFile(path.join(ctx.workDir, 'transfer-input.bin'), bytes);
  const expected = { count: 1, bytes, sha256: await fileSha256(input) };

  // The same encryption as a send (passphrase and RSA in one stanza) without the network,
  // to split the send's time into encryption and transport.
  const { secrets } = ctx;
  const encryptLine = `{time} ${shellQuote(ctx.node)} ${shellQuote(ctx.sftBin)} encrypt ${shellQuote(input)} -o - --require-both `
    + `--recipient ${shellQuote(secrets.sftPublicKey)} --passphrase-file ${shellQuote(secrets.passphraseFile)} > /dev/null`;
  const contestants = [
    { name: 'sft encrypt to /dev/null', run: () => measureShell(encryptLine) },
    sftContestant(ctx, template, [input], expected, 'sft send'),
    scpContestant(ctx, sshd, input, 'scp', async (copy) => {
      await run('cmp', ['-s', input, copy]).catch(() => {
        throw new Error(`scp wrote ${copy} with other bytes than ${input}.`);
      });
    }),
  ];
  const samples = await runRounds(contestants, ctx.runs, ctx.log);
  removeQuietly(input);

  const ours = summarize(samples.get('sft send'), 'wallS').median;
  const theirs = summarize(samples.get('scp'), 'wallS').median;
  const encryptOnly = summarize(samples.get('sft encrypt to /dev/null'), 'wallS').median;
  const receiverPeak = summarize(samples.get('sft send'), 'receiverRssKiB').median;
  const rows = [
    ['sft send → sft receive', wallCell(samples.get('sft send')), throughputCell(bytes, samples.get('sft send')), rssCell(samples.get('sft send')), `${(receiverPeak / 1024).toFixed(1)} MiB`],
    [`scp → sshd (${sshd.cipher})`, wallCell(samples.get('scp')), throughputCell(bytes, samples.get('scp')), rssCell(samples.get('scp')), ''],
    ['sft encrypt to /dev/null (no network)', wallCell(samples.get('sft encrypt to /dev/null')), throughputCell(bytes, samples.get('sft encrypt to /dev/null')), rssCell(samples.get('sft encrypt to /dev/null')), ''],
  ];
  const markdown = [
    `## 3. Send a ${size(bytes)} file over loopback`,
    '',
    `\`sft send\` encrypts the file for the receiver (passphrase and RSA stanza, PBKDF2 with 600,000 iterations) and uploads it over TLS to \`sft receive\` on 127.0.0.1, which stores the envelope. `
      + `\`scp\` (OpenSSH's default settings, cipher ${sshd.cipher}) copies it to the bench's own sshd on 127.0.0.1. `
      + 'Each run gets a fresh store; receiver start and stop are outside the timing. The first run checks the SHA-256 of the stored plaintext and the scp copy. '
      + 'Peak RSS is the sending process; the receiver\'s peak is read from /proc before it stops.',
    '',
    table(['command', 'median wall (min–max)', 'throughput', 'sender peak RSS', 'receiver peak RSS'], rows),
    '',
    `Ratio of medians, \`sft send\` over \`scp\`: ${ratio(ours, theirs)}. `
      + `Encrypting the same file the same way without sending it takes ${(100 * encryptOnly / ours).toFixed(0)} % of the send's median time. The rest is the TLS transfer, `
      + 'the SHA-256 of the envelope (which the sender computes for the receiver to check) and the receiver\'s writes.',
    ...(ours <= theirs ? [] : ['', explainTransfer()]),
  ].join('\n');
  const targets = [{ target: 'loopback transfer at least as fast as `scp`', result: `${ratio(ours, theirs)} of scp's time`, met: ours <= theirs }];
  return { id: 3, markdown, targets };
}

module.exports = { runWorkload, scpContestant, sftContestant, verifyStore };
