import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { SftError, isSftError } from '../src/errors';
import { writeEncryptedZip, writeEncryptedZipFile, type ZipEntrySource } from '../src/zip';
import { WinZipAesEncryptor, deriveWinZipAesKeys } from '../src/zip/winzip-aes';

const PASSWORD = 'correct horse 42!';
const MIB = 1024 * 1024;
const SEVEN_ZIP = ['7z', '7zz'].find((command) => spawnSync(command, ['i'], { stdio: 'ignore' }).status === 0);

let dir: string;

before(async () => {
  assert.ok(SEVEN_ZIP, 'these tests need 7-Zip: install Debian package 7zip or p7zip-full');
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sft-zip-'));
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

interface SevenZipResult {
  status: number | null;
  output: string;
  /** SHA-256 of stdout, filled when stdout was hashed instead of kept. */
  stdoutSha256?: string;
}

/** Runs 7-Zip. With `hashStdout` the stdout, which may be gigabytes, is hashed instead of kept. */
function run7z(args: string[], options: { hashStdout?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<SevenZipResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(SEVEN_ZIP as string, args, { env: { ...process.env, ...options.env } });
    const hash = crypto.createHash('sha256');
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      if (options.hashStdout) {
        hash.update(chunk);
      } else {
        output += chunk.toString('utf8');
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (status) => {
      resolve({ status, output, stdoutSha256: options.hashStdout ? hash.digest('hex') : undefined });
    });
  });
}

function sha256(bytes: Uint8Array): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

/** Returns a source that emits `bytes` in the given repeating chunk sizes, to cross batch and block edges. */
function chunkedSource(bytes: Buffer, chunkSizes: number[] = [1, 7, 4093, 65536, 300_001]): Readable {
  function* chunks(): Generator<Buffer> {
    let offset = 0;
    let i = 0;
    while (offset < bytes.length) {
      const size = chunkSizes[i % chunkSizes.length];
      yield bytes.subarray(offset, offset + size);
      offset += size;
      i++;
    }
  }
  return Readable.from(chunks());
}

async function exists(file: string): Promise<boolean> {
  return fs.stat(file).then(
    () => true,
    () => false,
  );
}

async function newFolder(name: string): Promise<string> {
  return fs.mkdtemp(path.join(dir, `${name}-`));
}

async function assertRejectsWithCode(promise: Promise<unknown>, code: string, messagePart?: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isSftError(error), `expected an SftError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (messagePart) {
      assert.ok(error.message.includes(messagePart), `message "${error.message}" lacks "${messagePart}"`);
    }
    return true;
  });
}

describe('encrypted ZIP extracted by 7-Zip', () => {
  const sizes = [0, 1, 15, 16, 17, MIB + 7];
  const contents = new Map<string, Buffer>();
  let zipPath: string;

  before(async () => {
    for (const size of sizes) {
      contents.set(`size-${size}.bin`, crypto.randomBytes(size));
    }
    contents.set('folder/sub folder/notes.txt', Buffer.from('inside a folder\n'));
    contents.set('Grüße/日本語 ファイル.txt', Buffer.from('non-ASCII name\n'));

    const folder = await newFolder('roundtrip');
    zipPath = path.join(folder, 'export.zip');
    const entries: ZipEntrySource[] = [...contents].map(([name, bytes]) => ({
      name,
      mtime: new Date('2021-03-04T05:06:08Z'),
      source: chunkedSource(bytes),
    }));
    const summary = await writeEncryptedZipFile(zipPath, entries, PASSWORD);

    assert.equal(summary.entryCount, contents.size);
    assert.equal(summary.archiveBytes, (await fs.stat(zipPath)).size);
  });

  test('extracts original bytes with password', async () => {
    const outFolder = await newFolder('extracted');
    const result = await run7z(['x', `-p${PASSWORD}`, `-o${outFolder}`, '-y', zipPath]);
    assert.equal(result.status, 0, result.output);

    for (const [name, bytes] of contents) {
      const extracted = await fs.readFile(path.join(outFolder, ...name.split('/')));
      assert.equal(sha256(extracted), sha256(bytes), `content of ${name}`);
    }
  });

  test('7z t passes without warnings', async () => {
    const result = await run7z(['t', `-p${PASSWORD}`, zipPath]);
    assert.equal(result.status, 0, result.output);
    assert.match(result.output, /Everything is Ok/);
    assert.doesNotMatch(result.output, /Warning|Headers Error|Unexpected end/i);
  });

  test('wrong password fails', async () => {
    const outFolder = await newFolder('wrong');
    const result = await run7z(['x', '-pwrong password', `-o${outFolder}`, '-y', zipPath]);
    assert.notEqual(result.status, 0);
    assert.match(result.output, /Wrong password/);
  });

  test('entries listed as AES-256 with time', async () => {
    const result = await run7z(['l', '-slt', zipPath], { env: { TZ: 'UTC' } });
    assert.equal(result.status, 0, result.output);
    assert.equal(result.output.match(/^Method = AES-256 Store$/gm)?.length, contents.size, result.output);
    assert.equal(result.output.match(/^Modified = 2021-03-04 05:06:08$/gm)?.length, contents.size, result.output);
    assert.match(result.output, /^Path = Grüße\/日本語 ファイル\.txt$/m);
  });
});

describe('encrypted ZIP integrity', () => {
  test('tampered ciphertext fails 7z t', async () => {
    const folder = await newFolder('tamper');
    const zipPath = path.join(folder, 'tampered.zip');
    await writeEncryptedZipFile(zipPath, [{ name: 'a.bin', mtime: new Date(), source: Readable.from([crypto.randomBytes(1000)]) }], PASSWORD);

    const bytes = await fs.readFile(zipPath);
    const dataOffset = 30 + bytes.readUInt16LE(26) + bytes.readUInt16LE(28);
    const ciphertextOffset = dataOffset + 16 + 2;
    bytes[ciphertextOffset + 500] ^= 0x01;
    await fs.writeFile(zipPath, bytes);

    const result = await run7z(['t', `-p${PASSWORD}`, zipPath]);
    assert.notEqual(result.status, 0, result.output);
  });

  test('empty archive passes 7z t', async () => {
    const folder = await newFolder('empty');
    const zipPath = path.join(folder, 'empty.zip');
    const summary = await writeEncryptedZipFile(zipPath, [], PASSWORD);
    assert.equal(summary.entryCount, 0);

    const result = await run7z(['t', `-p${PASSWORD}`, zipPath]);
    assert.equal(result.status, 0, result.output);
  });

  test('longest password opens in 7z', async () => {
    const folder = await newFolder('long-password');
    const zipPath = path.join(folder, 'long.zip');
    const password = 'p'.repeat(98) + '!';
    const bytes = crypto.randomBytes(100);
    await writeEncryptedZipFile(zipPath, [{ name: 'a.bin', mtime: new Date(), source: Readable.from([bytes]) }], password);

    const result = await run7z(['x', '-so', `-p${password}`, zipPath, 'a.bin'], { hashStdout: true });
    assert.equal(result.status, 0, result.output);
    assert.equal(result.stdoutSha256, sha256(bytes));
  });
});

describe('WinZip AES counter', () => {
  /** Encrypts with the counter computed one block at a time, independently of the batched code. */
  function referenceCiphertext(aesKey: Buffer, firstBlockNumber: number, plaintext: Buffer): Buffer {
    const ecb = crypto.createCipheriv('aes-256-ecb', aesKey, null);
    ecb.setAutoPadding(false);
    const out = Buffer.alloc(plaintext.length);
    for (let offset = 0; offset < plaintext.length; offset += 16) {
      const counter = Buffer.alloc(16);
      counter.writeBigUInt64LE(BigInt(firstBlockNumber + offset / 16), 0);
      const keystream = ecb.update(counter);
      for (let i = 0; i < 16 && offset + i < plaintext.length; i++) {
        out[offset + i] = plaintext[offset + i] ^ keystream[i];
      }
    }
    return out;
  }

  test('matches per-block counter across 2^32', async () => {
    const salt = crypto.randomBytes(16);
    const keys = await deriveWinZipAesKeys(Buffer.from(PASSWORD), salt);
    const firstBlockNumber = 2 ** 32 - 3;
    const plaintext = crypto.randomBytes(16 * 7 + 5);

    const encryptor = new WinZipAesEncryptor(salt, keys, firstBlockNumber);
    const output = Buffer.concat([...encryptor.update(plaintext), ...encryptor.final()]);
    const ciphertext = output.subarray(0, plaintext.length);
    const authenticationCode = output.subarray(plaintext.length);

    assert.deepEqual(ciphertext, referenceCiphertext(keys.aesKey, firstBlockNumber, plaintext));
    const expectedCode = crypto.createHmac('sha1', keys.hmacKey).update(ciphertext).digest().subarray(0, 10);
    assert.deepEqual(authenticationCode, expectedCode);
  });

  test('same output for any chunking', async () => {
    const salt = crypto.randomBytes(16);
    const keys = await deriveWinZipAesKeys(Buffer.from(PASSWORD), salt);
    const plaintext = crypto.randomBytes(3 * 256 * 1024 + 123);

    const whole = new WinZipAesEncryptor(salt, keys);
    const wholeOutput = Buffer.concat([...whole.update(plaintext), ...whole.final()]);

    const pieces = new WinZipAesEncryptor(salt, keys);
    const pieceOutputs: Buffer[] = [];
    for (let offset = 0, i = 0; offset < plaintext.length; i++) {
      const size = [1, 15, 17, 262_143, 5][i % 5];
      pieceOutputs.push(...pieces.update(plaintext.subarray(offset, offset + size)));
      offset += size;
    }
    pieceOutputs.push(...pieces.final());

    assert.deepEqual(Buffer.concat(pieceOutputs), wholeOutput);
    assert.deepEqual(wholeOutput.subarray(0, plaintext.length), referenceCiphertext(keys.aesKey, 1, plaintext));
  });
});

describe('ZIP input checks', () => {
  const badNames: Array<[string, string]> = [
    ['', 'empty'],
    ['../escape.txt', '".." segment'],
    ['folder/../../escape.txt', '".." segment'],
    ['/etc/passwd', 'absolute'],
    ['C:/Windows/evil.txt', 'absolute'],
    ['folder\\file.txt', '"\\"'],
    ['nul\u0000byte.txt', 'NUL'],
    ['line\nbreak.txt', 'control character'],
    ['folder/', 'ends with "/"'],
    ['a//b.txt', 'empty or "."'],
    ['./a.txt', 'empty or "."'],
    ['lone\ud800surrogate.txt', 'surrogate'],
  ];

  for (const [name, reason] of badNames) {
    test(`rejects name ${JSON.stringify(name)}`, async () => {
      const folder = await newFolder('bad-name');
      const zipPath = path.join(folder, 'out.zip');
      const source = Readable.from([Buffer.from('data')]);

      await assertRejectsWithCode(
        writeEncryptedZipFile(zipPath, [{ name, mtime: new Date(), source }], PASSWORD),
        'ZIP_ENTRY_NAME_INVALID',
        reason,
      );
      assert.equal(await exists(zipPath), false);
      assert.deepEqual(await fs.readdir(folder), []);
      assert.equal(source.destroyed, true);
    });
  }

  test('rejects duplicate names', async () => {
    const folder = await newFolder('duplicate');
    const entries = ['a.txt', 'a.txt'].map((name) => ({ name, mtime: new Date(), source: Readable.from([Buffer.from(name)]) }));
    await assertRejectsWithCode(writeEncryptedZipFile(path.join(folder, 'out.zip'), entries, PASSWORD), 'ZIP_ENTRY_NAME_INVALID', 'same name');
  });

  test('rejects a file used as folder', async () => {
    const folder = await newFolder('file-folder');
    const fileFirst = ['a', 'a/b.txt'].map((name) => ({ name, mtime: new Date(), source: Readable.from([Buffer.from(name)]) }));
    await assertRejectsWithCode(writeEncryptedZipFile(path.join(folder, 'one.zip'), fileFirst, PASSWORD), 'ZIP_ENTRY_NAME_INVALID', 'is a file');

    const folderFirst = ['a/b.txt', 'a'].map((name) => ({ name, mtime: new Date(), source: Readable.from([Buffer.from(name)]) }));
    await assertRejectsWithCode(writeEncryptedZipFile(path.join(folder, 'two.zip'), folderFirst, PASSWORD), 'ZIP_ENTRY_NAME_INVALID', 'as a folder');
  });

  const badPasswords: Array<[string, string, string]> = [
    ['empty', '', 'empty'],
    ['non-ASCII', 'pässwörd', 'printable ASCII'],
    ['tab', 'pass\tword', 'printable ASCII'],
    ['100 characters', 'x'.repeat(100), 'at most 99'],
  ];

  for (const [label, password, reason] of badPasswords) {
    test(`rejects ${label} password`, async () => {
      const folder = await newFolder('bad-password');
      const zipPath = path.join(folder, 'out.zip');
      const entries = [{ name: 'a.txt', mtime: new Date(), source: Readable.from([Buffer.from('a')]) }];

      await assertRejectsWithCode(writeEncryptedZipFile(zipPath, entries, password), 'ZIP_PASSWORD_INVALID', reason);
      assert.deepEqual(await fs.readdir(folder), []);
    });
  }

  test('error never contains the password', async () => {
    const password = 'pässwörd-secret';
    await assert.rejects(writeEncryptedZip(new PassThrough(), [], password), (error: unknown) => {
      assert.ok(error instanceof SftError);
      assert.ok(!error.message.includes('secret'), error.message);
      return true;
    });
  });

  test('rejects an invalid mtime', async () => {
    const folder = await newFolder('bad-mtime');
    const entries = [{ name: 'a.txt', mtime: new Date(Number.NaN), source: Readable.from([Buffer.from('a')]) }];
    await assertRejectsWithCode(writeEncryptedZipFile(path.join(folder, 'out.zip'), entries, PASSWORD), 'ZIP_FAILED', 'mtime');
  });
});

describe('ZIP failures mid-stream', () => {
  function failingSource(error: Error): Readable {
    async function* chunks(): AsyncGenerator<Buffer> {
      yield crypto.randomBytes(600_000);
      throw error;
    }
    return Readable.from(chunks());
  }

  test('source error leaves no file', async () => {
    const folder = await newFolder('source-error');
    const zipPath = path.join(folder, 'out.zip');
    const entries = [
      { name: 'good.bin', mtime: new Date(), source: Readable.from([crypto.randomBytes(1000)]) },
      { name: 'bad.bin', mtime: new Date(), source: failingSource(new Error('simulated read failure')) },
    ];

    await assertRejectsWithCode(writeEncryptedZipFile(zipPath, entries, PASSWORD), 'ZIP_FAILED', 'simulated read failure');
    assert.equal(await exists(zipPath), false);
    assert.deepEqual(await fs.readdir(folder), []);
  });

  test('source error keeps an existing file', async () => {
    const folder = await newFolder('keep-existing');
    const zipPath = path.join(folder, 'out.zip');
    await fs.writeFile(zipPath, 'previous export');
    const entries = [{ name: 'bad.bin', mtime: new Date(), source: failingSource(new Error('simulated read failure')) }];

    await assertRejectsWithCode(writeEncryptedZipFile(zipPath, entries, PASSWORD), 'ZIP_FAILED', '"bad.bin"');
    assert.equal(await fs.readFile(zipPath, 'utf8'), 'previous export');
    assert.deepEqual(await fs.readdir(folder), ['out.zip']);
  });

  test('source SftError keeps its code', async () => {
    const folder = await newFolder('sft-error');
    const zipPath = path.join(folder, 'out.zip');
    const tampered = new SftError('ENVELOPE_PAYLOAD_TAMPERED', 'chunk 3 failed authentication');
    const entries = [{ name: 'bad.bin', mtime: new Date(), source: failingSource(tampered) }];

    await assertRejectsWithCode(writeEncryptedZipFile(zipPath, entries, PASSWORD), 'ENVELOPE_PAYLOAD_TAMPERED');
    assert.equal(await exists(zipPath), false);
  });

  test('output error destroys the source', async () => {
    let written = 0;
    const output = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        written += chunk.length;
        callback(written > 2 * MIB ? Object.assign(new Error('simulated write failure'), { code: 'EIO' }) : null);
      },
    });
    const source = chunkedSource(crypto.randomBytes(8 * MIB), [64 * 1024]);

    await assertRejectsWithCode(
      writeEncryptedZip(output, [{ name: 'a.bin', mtime: new Date(), source }], PASSWORD),
      'IO_FAILED',
      'simulated write failure',
    );
    assert.equal(source.destroyed, true);
  });

  test('missing output folder rejected', async () => {
    const zipPath = path.join(dir, 'no-such-folder', 'out.zip');
    await assertRejectsWithCode(writeEncryptedZipFile(zipPath, [], PASSWORD), 'FILE_NOT_FOUND', 'does not exist');
  });
});

describe('ZIP64', () => {
  /** Free space the large test needs: the 4 GiB archive plus a margin. */
  const LARGE_TEST_FREE_BYTES = 6 * 1024 * MIB;

  // Takes 30-45 s on 2 AMD EPYC cores with 7-Zip 26.02. SFT_TEST_LARGE=0 turns it off.
  test('entry over 4 GiB extracts in 7z', { timeout: 10 * 60_000 }, async (t) => {
    if (process.env.SFT_TEST_LARGE === '0') {
      t.skip('SFT_TEST_LARGE=0');
      return;
    }
    const space = await fs.statfs(dir);
    if (space.bavail * space.bsize < LARGE_TEST_FREE_BYTES) {
      t.skip(`needs ${LARGE_TEST_FREE_BYTES} bytes free in ${dir}`);
      return;
    }

    const bigSize = 4 * 1024 * MIB + 17;
    const bigHash = crypto.createHash('sha256');
    const block = crypto.randomBytes(MIB);

    // Each chunk differs (its index in the first bytes), so a reordered or repeated chunk changes the hash.
    function* bigChunks(): Generator<Buffer> {
      for (let offset = 0, index = 0; offset < bigSize; offset += MIB, index++) {
        const chunk = Buffer.from(block.subarray(0, Math.min(MIB, bigSize - offset)));
        if (chunk.length >= 8) {
          chunk.writeBigUInt64LE(BigInt(index), 0);
        }
        bigHash.update(chunk);
        yield chunk;
      }
    }

    const folder = await newFolder('zip64');
    const zipPath = path.join(folder, 'large.zip');
    const small = Buffer.from('stored after the large entry\n');
    try {
      const summary = await writeEncryptedZipFile(
        zipPath,
        [
          { name: 'large.bin', mtime: new Date(), source: Readable.from(bigChunks()) },
          { name: 'after.txt', mtime: new Date(), source: Readable.from([small]) },
        ],
        PASSWORD,
      );
      assert.ok(summary.archiveBytes > 2 ** 32);

      const listing = await run7z(['l', '-slt', zipPath]);
      assert.equal(listing.status, 0, listing.output);
      assert.match(listing.output, new RegExp(`^Size = ${bigSize}$`, 'm'));
      assert.doesNotMatch(listing.output, /Warning|Headers Error/i);

      const large = await run7z(['x', '-so', `-p${PASSWORD}`, zipPath, 'large.bin'], { hashStdout: true });
      assert.equal(large.status, 0, large.output);
      assert.equal(large.stdoutSha256, bigHash.digest('hex'));

      const after = await run7z(['x', '-so', `-p${PASSWORD}`, zipPath, 'after.txt'], { hashStdout: true });
      assert.equal(after.status, 0, after.output);
      assert.equal(after.stdoutSha256, sha256(small));
    } finally {
      await fs.rm(zipPath, { force: true });
    }
  });
});
