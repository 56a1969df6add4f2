// Runs one command under GNU time and returns its wall time, CPU time and peak memory.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const GNU_TIME = '/usr/bin/time';
// User seconds, system seconds, maximum resident set size in KiB.
const TIME_FORMAT = '%U %S %M';
/** Standard error kept from the end of a command's output, enough to show its error message. */
const MAX_CAPTURED_STDERR_BYTES = 64 * 1024;
/** Standard output kept from a command, enough for `sft list --json` of a large store. */
const MAX_CAPTURED_STDOUT_BYTES = 256 * 1024 * 1024;

class CommandFailed extends Error {}

/**
 * Runs `command` with `args` under /usr/bin/time and resolves to
 * `{ wallS, userS, sysS, maxRssKiB, stdout }`. The wall time is taken around the
 * spawn with a monotonic clock (GNU time rounds to 10 ms). Rejects with
 * CommandFailed on a non-zero exit.
 */
function measure(command, args = [], options = {}) {
  return measureSpawn((timeFile) => spawn(GNU_TIME, ['-f', TIME_FORMAT, '-o', timeFile, command, ...args], spawnOptions(options)), [command, ...args].join(' '));
}

/**
 * Runs a bash line in which the word `{time}` marks the one process to measure,
 * for example `gen | {time} sft decrypt - -o - > /dev/null`. CPU time and memory are
 * that process's; the wall time is the whole line's. With pipefail, a failure of
 * any command in a pipeline fails the line.
 */
function measureShell(line, options = {}) {
  if (!line.includes('{time}')) {
    throw new Error(`Internal error: the shell line has no {time} mark: ${line}`);
  }
  return measureSpawn((timeFile) => {
    const timed = line.replace('{time}', `${GNU_TIME} -f '${TIME_FORMAT}' -o '${timeFile}'`);
    return spawn('/bin/bash', ['-o', 'pipefail', '-c', timed], spawnOptions(options));
  }, line);
}

function measureSpawn(start, description) {
  const timeFile = path.join(os.tmpdir(), `sft-bench-time-${process.pid}-${Math.random().toString(16).slice(2)}`);
  const child = start(timeFile);
  const started = process.hrtime.bigint();
  const output = { stdout: '', stderr: '' };
  collect(child.stdout, output, 'stdout');
  collect(child.stderr, output, 'stderr');

  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => {
      const wallS = Number(process.hrtime.bigint() - started) / 1e9;
      let fields = null;
      try {
        fields = fs.readFileSync(timeFile, 'utf8').trim().split('\n').pop().split(' ').map(Number);
        fs.rmSync(timeFile, { force: true });
      } catch {
        // GNU time writes nothing when it could not start the command; reported below.
      }
      if (status !== 0 || fields === null || fields.length !== 3) {
        reject(new CommandFailed(`"${description}" failed (${signal ?? `status ${status}`}): ${output.stderr.trim().slice(-2000)}`));
        return;
      }
      const [userS, sysS, maxRssKiB] = fields;
      resolve({ wallS, userS, sysS, maxRssKiB, stdout: output.stdout });
    });
  });
}

function spawnOptions(options) {
  return {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  };
}

/** Collects standard output up to its limit, and the last part of standard error, where errors are. */
function collect(stream, output, key) {
  stream.setEncoding('utf8');
  stream.on('data', (text) => {
    if (key === 'stderr') {
      output.stderr = (output.stderr + text).slice(-MAX_CAPTURED_STDERR_BYTES);
    } else if (output.stdout.length < MAX_CAPTURED_STDOUT_BYTES) {
      output.stdout += text;
    }
  });
}

/** Runs a command without measuring it; rejects with its standard error on failure. */
function run(command, args = [], options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, spawnOptions(options));
    const output = { stdout: '', stderr: '' };
    collect(child.stdout, output, 'stdout');
    collect(child.stderr, output, 'stderr');
    child.on('error', reject);
    child.on('close', (status, signal) => {
      if (status === 0) {
        resolve(output);
        return;
      }
      reject(new CommandFailed(`"${[command, ...args].join(' ')}" failed (${signal ?? `status ${status}`}): ${output.stderr.trim().slice(-2000)}`));
    });
  });
}

/** Quotes one word for a POSIX shell. */
function shellQuote(word) {
  return `'${String(word).replace(/'/g, `'\\''`)}'`;
}

module.exports = { CommandFailed, GNU_TIME, measure, measureShell, run, shellQuote };
