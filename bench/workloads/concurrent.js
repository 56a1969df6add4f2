// Workload 6: 1, 8 and 32 concurrent `sft send` processes to one `sft receive`.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { measure } = require('../lib/measure');
const { removeQuietly, writeRandomFile } = require('../lib/files');
const { fileSha256, sendCommand, startFreshReceiver } = require('../lib/receiver');
const { runRounds, summarize } = require('../lib/stats');
const { size, table, formatRuns } = require('../lib/report');
const { verifyStore } = require('./transfer');

/** Share of one sender's throughput that the most concurrent senders should keep in aggregate. */
const TARGET_SHARE = 0.8;
/** Stored files decrypted and compared per level in a quick run; a full run checks all. */
const QUICK_HASH_CHECKS = 2;

const LOCKOUT_EXPLANATION = 'Why senders fail: the receiver\'s login limiter (src/storage/login-limiter.ts) counts every login from an address as a failure '
  + 'from the moment it begins until the password is verified, so that parallel guesses cannot slip past it. Concurrent senders with the right password from one address '
  + 'therefore count as failures while their logins are in flight. A login that arrives while 5 others are in flight is rejected as locked out (its message asks to retry in 15 minutes), '
  + 'and the second to fifth wait 0.5 to 4 s before their password is checked.';

/** Returns the last line a failed sender printed, with ports and seconds masked so equal failures group. */
function failureReason(error) {
  const lines = error.message.split('\n').map((line) => line.trim()).filter((line) => line.length > 0);
  return lines[lines.length - 1].replace(/^.*failed \(status \d+\): /, '').replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT').replace(/\d+ s\b/g, 'N s');
}

async function runWorkload(ctx) {
  const { concurrentBytes: bytes, concurrentSenders: levels } = ctx.sizes;
  ctx.log(`Workload 6: ${levels.join(', ')} concurrent senders of ${size(bytes)}`);
  const template = await ctx.templateStore();
  const source = writeRandomFile(path.join(ctx.workDir, 'concurrent-input.bin'), bytes);
  const sha256 = await fileSha256(source);
  // One name per sender, all hard links to the same bytes, so 32 senders need no 32 copies.
  const inputs = [];
  fs.mkdirSync(path.join(ctx.workDir, 'concurrent'));
  for (let i = 0; i < Math.max(...levels); i++) {
    const link = path.join(ctx.workDir, 'concurrent', `sender-${i}.bin`);
    fs.linkSync(source, link);
    inputs.push(link);
  }

  const contestants = levels.map((senders) => ({
    name: `${senders} senders`,
    run: async (round) => {
      const receiver = await startFreshReceiver(ctx, template, `store-concurrent-${senders}-${round}`);
      const started = process.hrtime.bigint();
      let results;
      try {
        results = await Promise.allSettled(inputs.slice(0, senders).map((input) => {
          const [command, ...args] = sendCommand(ctx, receiver.link, [input]);
          return measure(command, args);
        }));
      } finally {
        await receiver.finish();
      }
      const wallS = Number(process.hrtime.bigint() - started) / 1e9;
      const delivered = results.filter((result) => result.status === 'fulfilled').map((result) => result.value);
      const failures = results.filter((result) => result.status === 'rejected').map((result) => failureReason(result.reason));
      // Every run checks that each delivered file was stored; the first run also decrypts them.
      let hashChecks = 0;
      if (round === 0) {
        hashChecks = ctx.quick ? QUICK_HASH_CHECKS : senders;
      }
      await verifyStore(ctx, receiver.storeDir, { count: delivered.length, bytes, sha256 }, hashChecks);
      receiver.remove();
      return {
        wallS,
        maxRssKiB: Math.max(0, ...delivered.map((result) => result.maxRssKiB)),
        bytesPerS: (delivered.length * bytes) / wallS,
        delivered: delivered.length,
        failures,
      };
    },
  }));
  // A quick run measures each level once: 32 processes starting at once take a while.
  const runs = ctx.quick ? 1 : ctx.runs;
  const samples = await runRounds(contestants, runs, ctx.log);
  removeQuietly(source, path.join(ctx.workDir, 'concurrent'));

  const throughput = (senders) => summarize(samples.get(`${senders} senders`), 'bytesPerS').median;
  const single = throughput(levels[0]);
  const failed = (senders) => samples.get(`${senders} senders`).reduce((sum, sample) => sum + sample.failures.length, 0);
  const rows = levels.map((senders) => {
    const list = samples.get(`${senders} senders`);
    const wall = summarize(list, 'wallS');
    return [
      `${senders} × ${size(bytes)}`,
      `${wall.median.toFixed(2)} s (${wall.min.toFixed(2)}–${wall.max.toFixed(2)})`,
      `${(throughput(senders) / 1e6).toFixed(0)} MB/s`,
      `${((throughput(senders) / single) * 100).toFixed(0)} %`,
      `${list.reduce((sum, sample) => sum + sample.delivered, 0)} of ${senders * list.length}`,
      `${(summarize(list, 'maxRssKiB').median / 1024).toFixed(1)} MiB`,
    ];
  });
  const reasons = new Map();
  for (const list of samples.values()) {
    for (const message of list.flatMap((sample) => sample.failures)) {
      reasons.set(message, (reasons.get(message) ?? 0) + 1);
    }
  }
  const maxSenders = Math.max(...levels);
  const markdown = [
    `## 6. Concurrent senders to one receiver`,
    '',
    `1, 8 and 32 \`sft send\` processes start at once, each sending its own ${size(bytes)} file to one \`sft receive\` on 127.0.0.1 (fresh store per run). `
      + `Aggregate throughput is the delivered plaintext bytes over the time from the first start to the last exit. Every run checks that the receiver stored every delivered file; the first run of each level decrypts ${ctx.quick ? `${QUICK_HASH_CHECKS} stored files` : 'each stored file'} and compares the SHA-256 with the original's. ${formatRuns(runs)}.`,
    '',
    table(['senders', 'median wall (min–max)', 'aggregate throughput', 'of one sender', 'files delivered', 'largest sender peak RSS'], rows),
    ...(reasons.size === 0 ? [] : ['', 'Senders that failed, by error message:', '', ...[...reasons].map(([message, count]) => `- ${count}×: ${message}`)]),
    ...([...reasons.keys()].some((message) => message.includes('too many failed logins')) ? ['', LOCKOUT_EXPLANATION] : []),
  ].join('\n');
  const share = throughput(maxSenders) / single;
  const lost = levels.reduce((sum, senders) => sum + failed(senders), 0);
  const targets = [{
    target: `${maxSenders} concurrent senders at ≥ ${TARGET_SHARE * 100} % of one sender's throughput, nothing lost`,
    result: `${(share * 100).toFixed(0)} %; ${lost === 0 ? 'every file stored with the right SHA-256' : `${lost} senders failed`}`,
    met: share >= TARGET_SHARE && lost === 0,
  }];
  return { id: 6, markdown, targets };
}

module.exports = { runWorkload };
