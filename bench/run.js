#!/usr/bin/env node
// `npm run bench`: measures sft side by side with age, gpg, OpenSSL, OpenSSH and 7-Zip on
// the same machine and files, and writes docs/BENCHMARKS.md.
//
// Options:
//   --quick        small files and few runs; finishes in under two minutes
//   --runs N       runs of each command (default 5, quick 2)
//   --only LIST    workloads to run, e.g. --only 1,2,5 (default: all)
//   --dir PATH     parent of the working folder (default /dev/shm when it has room)
//   --out FILE     report path (default docs/BENCHMARKS.md)
//   --keep         keep the working folder
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { parseArgs } = require('node:util');
const { buildDrivers } = require('./lib/drivers');
const { createWorkDir, removeQuietly } = require('./lib/files');
const { describeMachine } = require('./lib/machine');
const { run } = require('./lib/measure');
const { ensurePeers, peerVersions } = require('./lib/peers');
const { createTemplateStore, stopAllReceivers } = require('./lib/receiver');
const { startSshd } = require('./lib/sshd');
const { table, yesNo, formatRuns } = require('./lib/report');

const ROOT = path.resolve(__dirname, '..');
const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

/** Input sizes of each workload, full and quick. */
const SIZES = {
  full: {
    encryptBytes: GIB,
    inMemoryBytes: 1 * GIB,
    memoryBytes: [16 * MIB, GIB, 4 * GIB],
    transferBytes: GIB,
    smallFileCount: 10000,
    smallFileBytes: 4096,
    exportBytes: GIB,
    concurrentBytes: 64 * MIB,
    concurrentSenders: [1, 8, 32],
    activationRuns: 20,
  },
  quick: {
    encryptBytes: 64 * MIB,
    inMemoryBytes: 64 * MIB,
    memoryBytes: [16 * MIB, 256 * MIB],
    transferBytes: 64 * MIB,
    smallFileCount: 1000,
    smallFileBytes: 4096,
    exportBytes: 64 * MIB,
    concurrentBytes: 4 * MIB,
    concurrentSenders: [1, 8, 32],
    activationRuns: 5,
  },
};

const WORKLOADS = {
  1: () => require('./workloads/encrypt'),
  2: () => require('./workloads/memory'),
  3: () => require('./workloads/transfer'),
  4: () => require('./workloads/small-files'),
  5: () => require('./workloads/zip-export'),
  6: () => require('./workloads/concurrent'),
  7: () => require('./workloads/activation'),
};

function log(message) {
  process.stderr.write(`[bench] ${message}\n`);
}

function parseOptions() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      runs: { type: 'string' },
      only: { type: 'string' },
      dir: { type: 'string' },
      out: { type: 'string' },
      keep: { type: 'boolean' },
    },
  });
  const quick = values.quick === true;
  let runs = quick ? 2 : 5;
  if (values.runs !== undefined) {
    runs = Number(values.runs);
  }
  if (!Number.isInteger(runs) || runs < 1) {
    throw new Error(`Invalid --runs ${values.runs}: give a whole number of at least 1.`);
  }
  const only = values.only === undefined ? Object.keys(WORKLOADS).map(Number) : values.only.split(',').map(Number);
  for (const id of only) {
    if (!WORKLOADS[id]) throw new Error(`Invalid --only ${values.only}: workloads are numbered 1 to 7.`);
  }
  return { quick, runs, only, dir: values.dir, out: path.resolve(values.out ?? path.join(ROOT, 'docs', 'BENCHMARKS.md')), keep: values.keep === true };
}

/** Writes a random secret to a file readable by its owner only. */
function writeSecret(file) {
  fs.writeFileSync(file, `${crypto.randomBytes(18).toString('base64url')}\n`, { mode: 0o600 });
  return file;
}

/** Creates the passphrases and keys every tool needs, inside the working folder. */
async function createSecrets(ctx) {
  const dir = path.join(ctx.workDir, 'secrets');
  fs.mkdirSync(dir, { mode: 0o700 });
  const secrets = {
    passphraseFile: writeSecret(path.join(dir, 'passphrase')),
    identityPassphraseFile: writeSecret(path.join(dir, 'identity-passphrase')),
    zipPasswordFile: writeSecret(path.join(dir, 'zip-password')),
    accountPasswordFile: writeSecret(path.join(dir, 'account-password')),
    sftPrivateKey: path.join(dir, 'sft', 'private.pem'),
    sftPublicKey: path.join(dir, 'sft', 'public.pem'),
    ageIdentity: path.join(dir, 'age.key'),
    gnupgHome: path.join(dir, 'gnupg'),
  };
  await run(ctx.node, [ctx.sftBin, 'keygen', '--out', path.join(dir, 'sft'), '--passphrase-file', secrets.identityPassphraseFile]);
  await run('age-keygen', ['-o', secrets.ageIdentity]);
  secrets.ageRecipient = (await run('age-keygen', ['-y', secrets.ageIdentity])).stdout.trim();
  fs.mkdirSync(secrets.gnupgHome, { mode: 0o700 });
  return secrets;
}

function neededBytes(sizes, only) {
  const perWorkload = {
    1: 3 * sizes.encryptBytes,
    2: sizes.memoryBytes[0],
    3: 3 * sizes.transferBytes,
    4: 4 * sizes.smallFileCount * sizes.smallFileBytes,
    5: 3 * sizes.exportBytes,
    6: 3 * Math.max(...sizes.concurrentSenders) * sizes.concurrentBytes,
    7: 0,
  };
  return Math.max(...only.map((id) => perWorkload[id])) + 256 * MIB;
}

async function main() {
  const options = parseOptions();
  const started = Date.now();
  const sizes = options.quick ? SIZES.quick : SIZES.full;

  await ensurePeers(log);
  const workDir = createWorkDir(options.dir, neededBytes(sizes, options.only), log);
  log(`Working folder ${workDir}`);
  const ctx = {
    quick: options.quick,
    runs: options.runs,
    sizes,
    workDir,
    root: ROOT,
    node: process.execPath,
    sftBin: path.join(ROOT, 'bin', 'sft.js'),
    log,
    cleanups: [],
  };
  // Shared by the transfer workloads, made on first use.
  let template;
  let sshd;
  ctx.templateStore = async () => {
    template ??= await createTemplateStore(ctx);
    return template;
  };
  ctx.sshd = async () => {
    if (sshd === undefined) {
      sshd = await startSshd(path.join(workDir, 'sshd'), log);
      ctx.cleanups.push(() => sshd.stop());
    }
    return sshd;
  };

  // Stops what the bench started and removes the working folder, once.
  let cleaned;
  const cleanUp = () => {
    cleaned ??= (async () => {
      await stopAllReceivers();
      for (const cleanup of ctx.cleanups.reverse()) {
        await cleanup().catch((error) => log(`Cleanup failed: ${error.message}`));
      }
      if (ctx.secrets) {
        await run('gpgconf', ['--homedir', ctx.secrets.gnupgHome, '--kill', 'gpg-agent']).catch(() => undefined);
      }
      if (options.keep) {
        log(`Kept ${workDir}`);
      } else {
        removeQuietly(workDir);
      }
    })();
    return cleaned;
  };
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      log(`${signal}: stopping`);
      cleanUp().finally(() => process.exit(130));
    });
  }

  const results = [];
  try {
    ctx.drivers = await buildDrivers(path.join(workDir, 'drivers'));
    ctx.secrets = await createSecrets(ctx);
    for (const id of options.only) {
      const workloadStarted = Date.now();
      results.push(await WORKLOADS[id]().runWorkload(ctx));
      log(`Workload ${id} took ${((Date.now() - workloadStarted) / 1000).toFixed(0)} s`);
    }
  } finally {
    await cleanUp();
  }

  const machine = describeMachine(path.dirname(workDir));
  const versions = await peerVersions();
  const minutes = ((Date.now() - started) / 60000).toFixed(1);
  const markdown = render(options, machine, versions, results, minutes);
  fs.writeFileSync(options.out, markdown);
  log(`Wrote ${options.out} in ${minutes} min`);
}

function render(options, machine, versions, results, minutes) {
  const command = `npm run bench${options.quick ? ' -- --quick' : ''}`;
  const targetRows = results.flatMap((result) => result.targets.map((target) => [`${result.id}`, target.target, target.result, yesNo(target.met)]));
  return [
    '# Benchmarks',
    '',
    `Written by \`${command}\` (bench/run.js) in ${minutes} minutes, ${formatRuns(options.runs)} per command${options.quick ? ', with small files' : ''}. `
      + 'Run `npm run bench` for the full set or `npm run bench -- --quick` for a small version (under two minutes); '
      + 'both rewrite this page. The script installs missing peers from Debian\'s packages, makes its own inputs and keys, and cleans up after itself.',
    '',
    'Each command runs as its own process under GNU time, which reports its CPU time and peak resident memory; wall times are taken around the process. '
      + 'The commands of a workload take turns, run by run, so a change in the machine\'s load touches all of them alike. '
      + `Inputs and outputs live in ${machine.workDir}, so the page cache holds every file and disk speed does not hide the tools' own cost. `
      + '`sft` flushes each output file to disk (fsync) before renaming it into place; on tmpfs that costs nothing, on a disk it adds the time to write the file out, which the peers do not wait for. '
      + 'Absolute times vary between runs on a shared machine; the ratios are the result.',
    '',
    '## Machine',
    '',
    table(['', ''], [
      ['CPU', `${machine.cpu}, ${machine.cores} cores`],
      ['memory', `${machine.memoryGiB} GiB`],
      ['system', machine.system],
      ['working folder', machine.workDir],
      ['load average (1, 5, 15 min) at the end', machine.loadAverage],
      ['Node.js', `${machine.node} (OpenSSL ${machine.nodeOpenssl})`],
      ['OpenSSL', versions.openssl],
      ['age', versions.age],
      ['GnuPG', versions.gpg],
      ['OpenSSH', versions.ssh],
      ['7-Zip', versions.sevenZip],
    ], 'll'),
    '',
    '## Targets',
    '',
    table(['workload', 'target', 'measured', ''], targetRows, 'llll'),
    '',
    ...results.map((result) => `${result.markdown}\n`),
  ].join('\n');
}

main().catch((error) => {
  log(error.stack ?? error.message);
  process.exitCode = 1;
});
