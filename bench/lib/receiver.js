// `sft receive` for the transfer workloads: a template store made once, and a receiver on
// a fresh copy of it for each run, so received files never pile up in the working folder.
'use strict';
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { run } = require('./measure');

const USERNAME = 'bench';
/** Receivers running now, so an interrupted bench can stop them. */
const running = new Set();
const START_TIMEOUT_MS = 30000;
const STOP_TIMEOUT_MS = 15000;

/**
 * Creates the template store in `<workDir>/store-template`: one account and the receiver's
 * identity (made by a first start). Returns the paths the senders need.
 */
async function createTemplateStore(ctx) {
  const dir = path.join(ctx.workDir, 'store-template');
  await run(ctx.node, [ctx.sftBin, 'account', 'add', USERNAME, '--store', dir, '--password-file', ctx.secrets.accountPasswordFile]);
  const receiver = await startReceiver(ctx, dir);
  await receiver.stop();
  return { dir, username: USERNAME };
}

/** Returns the peak resident memory of a running process in KiB, from /proc. */
function peakRssKiB(pid) {
  try {
    const match = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmHWM:\s+(\d+) kB$/m);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Clock ticks per second of /proc's CPU times; 100 on Linux for x86 and arm64. */
const CLOCK_TICKS_PER_SECOND = 100;

/** Returns the user and system CPU seconds a running process has used, from /proc. */
function cpuSeconds(pid) {
  try {
    // Fields after the command name, which sits in parentheses and may hold spaces.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/**
 * Starts `sft receive` on `storeDir` at a free port on 127.0.0.1 and resolves once it
 * prints its link. `stop()` sends SIGTERM to its process id, waits for the exit, and
 * returns its peak resident memory in KiB.
 */
async function startReceiver(ctx, storeDir) {
  const child = spawn(ctx.node, [ctx.sftBin, 'receive', '--store', storeDir, '--host', '127.0.0.1', '--port', '0', '--identity-passphrase-file', ctx.secrets.identityPassphraseFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let errors = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text) => {
    errors = (errors + text).slice(-8000);
  });
  const exited = new Promise((resolve) => child.once('exit', (status, signal) => resolve({ status, signal })));

  const link = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sft receive printed no link within ${START_TIMEOUT_MS} ms: ${errors.trim()}`)), START_TIMEOUT_MS);
    child.stdout.on('data', (text) => {
      output += text;
      const line = output.split('\n').find((candidate) => candidate.startsWith('sft://'));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve(line.trim());
      }
    });
    exited.then(({ status, signal }) => {
      clearTimeout(timer);
      reject(new Error(`sft receive exited (${signal ?? `status ${status}`}) before printing its link: ${errors.trim()}`));
    });
  });

  const cpuAtStart = cpuSeconds(child.pid);
  let cpuUsedS;
  const stop = async () => {
    const peak = peakRssKiB(child.pid);
    const cpuNow = cpuSeconds(child.pid);
    cpuUsedS = cpuNow === undefined || cpuAtStart === undefined ? undefined : cpuNow - cpuAtStart;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    running.delete(stop);
    return peak;
  };
  running.add(stop);
  return { link, pid: child.pid, stop, errors: () => errors, cpuUsedS: () => cpuUsedS };
}

/**
 * Copies the template store to a new folder and starts a receiver on it. `finish()` stops
 * the receiver and returns `{ peakRssKiB, storeDir }`; `remove()` deletes the copy.
 */
async function startFreshReceiver(ctx, template, name) {
  const storeDir = path.join(ctx.workDir, name);
  fs.cpSync(template.dir, storeDir, { recursive: true });
  const receiver = await startReceiver(ctx, storeDir);
  return {
    link: receiver.link,
    storeDir,
    /** Stops the receiver; `cpuS` is the CPU time it used after printing its link. */
    finish: async () => ({ peakRssKiB: await receiver.stop(), cpuS: receiver.cpuUsedS(), storeDir }),
    remove: () => fs.rmSync(storeDir, { recursive: true, force: true }),
    errors: receiver.errors,
  };
}

/** Stops every receiver still running. */
async function stopAllReceivers() {
  await Promise.all([...running].map((stop) => stop()));
}

/** Returns the `sft send` command line that sends `paths` to `link` as the bench account. */
function sendCommand(ctx, link, paths) {
  const { secrets } = ctx;
  return [ctx.node, ctx.sftBin, 'send', '--to', link, '--user', USERNAME, '--password-file', secrets.accountPasswordFile,
    '--passphrase-file', secrets.passphraseFile, '--known-receivers', path.join(ctx.workDir, 'known-receivers.json'), ...paths];
}

/** Lists a store's entries with `sft list --json`. */
async function listEntries(ctx, storeDir) {
  const { stdout } = await run(ctx.node, [ctx.sftBin, 'list', '--store', storeDir, '--json']);
  return JSON.parse(stdout);
}

/**
 * Decrypts a stored envelope with the receiver's private key and the senders' passphrase
 * and returns the hex SHA-256 of its plaintext.
 */
function storedPlaintextSha256(ctx, storeDir, entry) {
  const { secrets } = ctx;
  const child = spawn(ctx.node, [ctx.sftBin, 'decrypt', path.join(storeDir, 'files', `${entry.id}.sft`), '-o', '-',
    '--identity', path.join(storeDir, 'identity', 'envelope-key.pem'), '--identity-passphrase-file', secrets.identityPassphraseFile,
    '--passphrase-file', secrets.passphraseFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  const hash = crypto.createHash('sha256');
  let errors = '';
  child.stdout.on('data', (bytes) => hash.update(bytes));
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text) => {
    errors = (errors + text).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status) => {
      if (status === 0) resolve(hash.digest('hex'));
      else reject(new Error(`Decrypting stored entry ${entry.id} failed: ${errors.trim()}`));
    });
  });
}

/** Returns the hex SHA-256 of a file. */
async function fileSha256(file) {
  const hash = crypto.createHash('sha256');
  for await (const bytes of fs.createReadStream(file, { highWaterMark: 1024 * 1024 })) {
    hash.update(bytes);
  }
  return hash.digest('hex');
}

module.exports = { createTemplateStore, fileSha256, listEntries, sendCommand, startFreshReceiver, stopAllReceivers, storedPlaintextSha256 };
