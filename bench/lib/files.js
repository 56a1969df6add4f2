// The working folder and the input files the workloads read.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const MIB = 1024 * 1024;
const WRITE_BLOCK_BYTES = 4 * MIB;
/** Shared memory: files there are always in the page cache, so a slow disk does not hide the tools' own cost. */
const SHARED_MEMORY_DIR = '/dev/shm';

/**
 * Creates the working folder: under `preferred` when given, else in /dev/shm when it has
 * `neededBytes` free, else in the system's temporary folder.
 */
function createWorkDir(preferred, neededBytes, log) {
  let parent = preferred;
  if (parent === undefined) {
    parent = os.tmpdir();
    try {
      const stats = fs.statfsSync(SHARED_MEMORY_DIR);
      if (stats.bavail * stats.bsize >= neededBytes) {
        parent = SHARED_MEMORY_DIR;
      } else {
        log(`${SHARED_MEMORY_DIR} has less than ${Math.ceil(neededBytes / 1024 ** 3)} GiB free; using ${parent}`);
      }
    } catch {
      // No /dev/shm on this system.
    }
  }
  fs.mkdirSync(parent, { recursive: true });
  return fs.mkdtempSync(path.join(parent, 'sft-bench-'));
}

/** Writes `bytes` random bytes to `file`; incompressible, so no tool can shortcut the work. */
function writeRandomFile(file, bytes) {
  const fd = fs.openSync(file, 'w', 0o600);
  try {
    const block = Buffer.allocUnsafe(WRITE_BLOCK_BYTES);
    for (let written = 0; written < bytes; written += WRITE_BLOCK_BYTES) {
      const length = Math.min(WRITE_BLOCK_BYTES, bytes - written);
      crypto.randomFillSync(block, 0, length);
      fs.writeSync(fd, block, 0, length);
    }
  } finally {
    fs.closeSync(fd);
  }
  return file;
}

/** Creates a sparse file of `bytes` zero bytes that takes no space; reads come from the kernel. */
function writeSparseFile(file, bytes) {
  fs.closeSync(fs.openSync(file, 'w', 0o600));
  fs.truncateSync(file, bytes);
  return file;
}

function removeQuietly(...files) {
  for (const file of files) {
    fs.rmSync(file, { force: true, recursive: true });
  }
}

module.exports = { MIB, createWorkDir, removeQuietly, writeRandomFile, writeSparseFile };
