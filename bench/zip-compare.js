// Compares three ways to write an AES-256 ZIP of one stored file: this project's writer
// (src/zip), archiver with archiver-zip-encrypted, and 7-Zip (`7z a -tzip -mem=AES256 -mx=0`).
// Each run is a separate process under `/usr/bin/time -v`, which gives its wall time and
// peak RSS. Every archive is checked with 7-Zip: `7z t`, then `7z x -so` compared by SHA-256.
//
// Usage (after `npm run compile-tests`, which builds out/src/zip):
//   node bench/zip-compare.js [--size-mib 256] [--runs 3]
//   node bench/zip-compare.js --zip64 archiver|ours
//       writes one entry of 4 GiB + 17 bytes from generated data (no plaintext on disk),
//       then reports whether 7-Zip lists, tests and extracts it.
'use strict';

const { spawn, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Readable } = require('node:stream');

// Not a secret: the archives are deleted after each run.
const PASSWORD = 'bench-password-2024';
const MIB = 1024 * 1024;
const ZIP64_ENTRY_BYTES = 4 * 1024 * MIB + 17;
const TIME_COMMAND = '/usr/bin/time';

function parseArguments(argv) {
  const options = { sizeMib: 256, runs: 3, zip64: null, child: null };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i];
    if (name === '--size-mib') options.sizeMib = Number(argv[++i]);
    else if (name === '--runs') options.runs = Number(argv[++i]);
    else if (name === '--zip64') options.zip64 = argv[++i];
    else if (name === '--child') options.child = argv.slice(i + 1);
    else throw new Error(`Unknown option ${name}. See the usage at the top of bench/zip-compare.js.`);
    if (options.child) break;
  }
  return options;
}

// ---------- Child processes: one archive each ----------

/** Returns a Readable of `size` bytes built from one random MiB, each MiB stamped with its index. */
function generatedSource(size, hash) {
  const block = crypto.randomBytes(MIB);
  function* chunks() {
    for (let offset = 0, index = 0; offset < size; offset += MIB, index++) {
      const chunk = Buffer.from(block.subarray(0, Math.min(MIB, size - offset)));
      if (chunk.length >= 8) chunk.writeBigUInt64LE(BigInt(index), 0);
      hash.update(chunk);
      yield chunk;
    }
  }
  return Readable.from(chunks());
}

async function writeWithOurs(source, outPath) {
  const { writeEncryptedZip } = require('../out/src/zip');
  await writeEncryptedZip(fs.createWriteStream(outPath), [{ name: 'input.bin', mtime: new Date(), source }], PASSWORD);
}

async function writeWithArchiver(source, outPath) {
  const archiver = require('archiver');
  if (!archiver.isRegisteredFormat('zip-encrypted')) {
    archiver.registerFormat('zip-encrypted', require('archiver-zip-encrypted'));
  }
  const archive = archiver.create('zip-encrypted', { store: true, encryptionMethod: 'aes256', password: PASSWORD });
  const output = fs.createWriteStream(outPath);
  const closed = new Promise((resolve, reject) => {
    output.on('close', resolve);
    output.on('error', reject);
    archive.on('error', reject);
  });
  archive.pipe(output);
  archive.append(source, { name: 'input.bin', date: new Date() });
  await archive.finalize();
  await closed;
}

async function runChild([writer, inputPath, outPath]) {
  const write = writer === 'ours' ? writeWithOurs : writeWithArchiver;
  if (inputPath === '--generated') {
    const hash = crypto.createHash('sha256');
    await write(generatedSource(ZIP64_ENTRY_BYTES, hash), outPath);
    process.stdout.write(hash.digest('hex'));
    return;
  }
  await write(fs.createReadStream(inputPath, { highWaterMark: MIB }), outPath);
}

// ---------- Parent: runs, measures and checks ----------

function sevenZipCommand() {
  const found = ['7z', '7zz'].find((command) => spawnSync(command, ['i'], { stdio: 'ignore' }).status === 0);
  if (!found) throw new Error('7-Zip is missing: install Debian package 7zip or p7zip-full.');
  return found;
}

/** Runs a command and resolves with its exit status, stdout (or its SHA-256) and stderr. */
function run(command, args, { cwd, hashStdout = false } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd });
    const hash = crypto.createHash('sha256');
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (hashStdout ? hash.update(chunk) : (stdout += chunk)));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout: hashStdout ? hash.digest('hex') : stdout, stderr }));
  });
}

/** Runs a command under `/usr/bin/time -v` and returns wall seconds and peak RSS in KiB. */
async function measure(command, args, cwd) {
  const result = await run(TIME_COMMAND, ['-v', command, ...args], { cwd });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed with status ${result.status}:\n${result.stderr}`);
  }
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(result.stderr);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(result.stderr);
  const seconds = Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]);
  return { seconds, peakRssKib: Number(rss[1]), stdout: result.stdout };
}

async function checkWith7z(sevenZip, zipPath, expectedSha256) {
  const test = await run(sevenZip, ['t', `-p${PASSWORD}`, zipPath]);
  const extract = await run(sevenZip, ['x', '-so', `-p${PASSWORD}`, zipPath, 'input.bin'], { hashStdout: true });
  const warnings = /Warning|Headers Error|Unexpected end|ERROR/i.test(test.stdout + test.stderr);
  return {
    testPassed: test.status === 0 && !warnings,
    testStatus: test.status,
    extractMatches: extract.status === 0 && extract.stdout === expectedSha256,
    testOutput: (test.stdout + test.stderr).trim(),
    extractStatus: extract.status,
    extractErrors: extract.stderr.trim(),
  };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function machineFacts(sevenZip) {
  const version = (name) => {
    try {
      return require(`${name}/package.json`).version;
    } catch {
      return 'not installed';
    }
  };
  const sevenZipBanner = spawnSync(sevenZip, ['i'], { encoding: 'utf8' }).stdout.split('\n').find((line) => line.includes('7-Zip')) ?? '';
  return [
    `CPU: ${os.cpus()[0].model}, ${os.cpus().length} cores; memory ${Math.round(os.totalmem() / 1024 ** 3)} GiB; ` +
      `load average at start ${os.loadavg()[0].toFixed(1)}`,
    `Node ${process.version} (OpenSSL ${process.versions.openssl}); ${sevenZipBanner.trim()}`,
    `archiver ${version('archiver')}, archiver-zip-encrypted ${version('archiver-zip-encrypted')}, aes-js ${version('aes-js')}`,
  ];
}

async function compareTools(options, sevenZip) {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'sft-zip-bench-'));
  try {
    const inputPath = path.join(folder, 'input.bin');
    const size = options.sizeMib * MIB;
    const input = crypto.randomBytes(size);
    fs.writeFileSync(inputPath, input);
    const inputSha256 = crypto.createHash('sha256').update(input).digest('hex');
    const outPath = path.join(folder, 'out.zip');

    const tools = [
      { label: 'src/zip (node:crypto)', command: process.execPath, args: [__filename, '--child', 'ours', inputPath, outPath] },
      { label: 'archiver-zip-encrypted', command: process.execPath, args: [__filename, '--child', 'archiver', inputPath, outPath] },
      { label: '7z a -mem=AES256 -mx=0', command: sevenZip, args: ['a', '-tzip', '-mem=AES256', '-mx=0', `-p${PASSWORD}`, outPath, 'input.bin'] },
    ];

    console.log(`Input: ${options.sizeMib} MiB of random data, ${options.runs} runs per tool, median shown.`);
    for (const line of machineFacts(sevenZip)) console.log(line);
    console.log('');
    console.log('| writer | wall time (s) | MB/s | peak RSS (MiB) | 7z t | 7z x SHA-256 |');
    console.log('| --- | --- | --- | --- | --- | --- |');

    for (const tool of tools) {
      const runs = [];
      let check = null;
      for (let i = 0; i < options.runs; i++) {
        fs.rmSync(outPath, { force: true });
        runs.push(await measure(tool.command, tool.args, folder));
        if (i === 0) check = await checkWith7z(sevenZip, outPath, inputSha256);
      }
      const seconds = median(runs.map((r) => r.seconds));
      const rssMib = median(runs.map((r) => r.peakRssKib)) / 1024;
      const throughput = size / 1e6 / seconds;
      console.log(
        `| ${tool.label} | ${seconds.toFixed(2)} | ${throughput.toFixed(0)} | ${rssMib.toFixed(0)} | ` +
          `${check.testPassed ? 'ok' : 'FAILED'} | ${check.extractMatches ? 'match' : 'MISMATCH'} |`,
      );
      if (!check.testPassed || !check.extractMatches) console.log(check.testOutput);
    }
  } finally {
    fs.rmSync(folder, { recursive: true, force: true });
  }
}

async function checkZip64(writer, sevenZip) {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'sft-zip64-bench-'));
  try {
    const outPath = path.join(folder, 'large.zip');
    console.log(`Writing one entry of ${ZIP64_ENTRY_BYTES} bytes with ${writer}...`);
    for (const line of machineFacts(sevenZip)) console.log(line);

    const written = await measure(process.execPath, [__filename, '--child', writer, '--generated', outPath], folder);
    console.log(`written in ${written.seconds.toFixed(1)} s, peak RSS ${(written.peakRssKib / 1024).toFixed(0)} MiB, ${fs.statSync(outPath).size} bytes`);

    const listing = await run(sevenZip, ['l', '-slt', outPath]);
    const listed = (listing.stdout + listing.stderr).split('\n').filter((line) => /^(Size|Packed Size|Method|Characteristics) =|Warning|Error|ERROR/i.test(line));
    console.log(`7z l: status ${listing.status}\n  ${listed.join('\n  ')}`);

    const check = await checkWith7z(sevenZip, outPath, written.stdout);
    console.log(`7z t: status ${check.testStatus}, ${check.testPassed ? 'ok' : 'FAILED'}\n  ${check.testOutput.split('\n').filter((l) => /error|warning|ok|wrong/i.test(l)).join('\n  ')}`);
    console.log(`7z x -so: status ${check.extractStatus}, SHA-256 ${check.extractMatches ? 'matches' : 'does NOT match'} ${check.extractErrors}`);
  } finally {
    fs.rmSync(folder, { recursive: true, force: true });
  }
}

async function main() {
  const options = parseArguments(process.argv.slice(2));
  if (options.child) {
    await runChild(options.child);
    return;
  }
  const sevenZip = sevenZipCommand();
  if (options.zip64) {
    await checkZip64(options.zip64, sevenZip);
    return;
  }
  await compareTools(options, sevenZip);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
