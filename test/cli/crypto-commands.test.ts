import assert from 'node:assert/strict';
import { execFileSync, spawnSync, SpawnSyncReturns } from 'node:child_process';
import * as crypto from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';

const SFT = path.join(__dirname, '..', '..', '..', 'bin', 'sft.js');
let dir: string;

function sft(args: string[], options: { input?: Buffer; env?: NodeJS.ProcessEnv } = {}): SpawnSyncReturns<Buffer> {
  return spawnSync(process.execPath, [SFT, ...args], {
    cwd: dir,
    input: options.input,
    env: { PATH: process.env.PATH, ...options.env },
    maxBuffer: 64 * 1024 * 1024,
  });
}

function sha256(bytes: Buffer): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

async function exists(file: string): Promise<boolean> {
  return fs.stat(path.join(dir, file)).then(() => true, () => false);
}

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sft-cli-'));
  await fs.writeFile(path.join(dir, 'key-pass'), 'key passphrase\n');
  await fs.writeFile(path.join(dir, 'pass'), 'file passphrase\n');
  await fs.writeFile(path.join(dir, 'plain.bin'), crypto.randomBytes(200_000));
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('sft keygen, encrypt, decrypt, inspect', () => {
  let fingerprint: string;

  before(() => {
    const result = sft(['keygen', '--out', 'keys', '--bits', '2048', '--passphrase-file', 'key-pass']);
    assert.equal(result.status, 0, result.stderr.toString());
    fingerprint = result.stdout.toString().trim();
  });

  test('keygen prints a fingerprint openssl agrees with', () => {
    assert.match(fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
    const der = execFileSync('openssl', ['pkey', '-in', path.join(dir, 'keys', 'private.pem'), '-passin', 'pass:key passphrase', '-pubout', '-outform', 'DER']);
    assert.equal(fingerprint, `SHA256:${crypto.createHash('sha256').update(der).digest('base64').replace(/=+$/, '')}`);
  });

  test('passphrase and recipient each decrypt alone', async () => {
    const sealed = sft(['encrypt', 'plain.bin', '-o', 'both.sft', '--passphrase-file', 'pass', '--recipient', 'keys/public.pem', '--iterations', '100000']);
    assert.equal(sealed.status, 0, sealed.stderr.toString());

    const byPassphrase = sft(['decrypt', 'both.sft', '-o', 'by-pass.bin', '--passphrase-file', 'pass']);
    assert.equal(byPassphrase.status, 0, byPassphrase.stderr.toString());
    const byKey = sft(['decrypt', 'both.sft', '-o', 'by-key.bin', '--identity', 'keys/private.pem', '--identity-passphrase-file', 'key-pass']);
    assert.equal(byKey.status, 0, byKey.stderr.toString());

    const original = sha256(await fs.readFile(path.join(dir, 'plain.bin')));
    assert.equal(sha256(await fs.readFile(path.join(dir, 'by-pass.bin'))), original);
    assert.equal(sha256(await fs.readFile(path.join(dir, 'by-key.bin'))), original);
  });

  test('an existing output is kept unless --force', async () => {
    await fs.writeFile(path.join(dir, 'taken.sft'), 'keep me');
    const rejected = sft(['encrypt', 'plain.bin', '-o', 'taken.sft', '--passphrase-file', 'pass', '--iterations', '100000']);
    assert.equal(rejected.status, 1);
    assert.match(rejected.stderr.toString(), /taken\.sft already exists\. .*--force/);
    assert.equal(await fs.readFile(path.join(dir, 'taken.sft'), 'utf8'), 'keep me');

    const forced = sft(['encrypt', 'plain.bin', '-o', 'taken.sft', '--force', '--passphrase-file', 'pass', '--iterations', '100000']);
    assert.equal(forced.status, 0, forced.stderr.toString());
    await fs.writeFile(path.join(dir, 'taken.bin'), 'keep me too');
    const decrypted = sft(['decrypt', 'taken.sft', '-o', 'taken.bin', '--passphrase-file', 'pass']);
    assert.equal(decrypted.status, 1);
    assert.equal(await fs.readFile(path.join(dir, 'taken.bin'), 'utf8'), 'keep me too');
    const replaced = sft(['decrypt', 'taken.sft', '-f', '-o', 'taken.bin', '--passphrase-file', 'pass']);
    assert.equal(replaced.status, 0, replaced.stderr.toString());
    assert.equal(sha256(await fs.readFile(path.join(dir, 'taken.bin'))), sha256(await fs.readFile(path.join(dir, 'plain.bin'))));
    assert.deepEqual((await fs.readdir(dir)).filter((name) => name.endsWith('.partial')), []);

    const device = sft(['decrypt', 'taken.sft', '-o', '/dev/null', '--force', '--passphrase-file', 'pass']);
    assert.equal(device.status, 2);
    assert.match(device.stderr.toString(), /\/dev\/null is not a regular file\. .*-o -/);
  });

  test('require-both needs key and passphrase', async () => {
    const sealed = sft(['encrypt', 'plain.bin', '-o', 'combined.sft', '--passphrase-file', 'pass', '--recipient', 'keys/public.pem', '--require-both', '--iterations', '100000']);
    assert.equal(sealed.status, 0, sealed.stderr.toString());

    const passOnly = sft(['decrypt', 'combined.sft', '-o', 'c1.bin', '--passphrase-file', 'pass']);
    assert.equal(passOnly.status, 1);
    assert.equal(await exists('c1.bin'), false);
    const keyOnly = sft(['decrypt', 'combined.sft', '-o', 'c2.bin', '--identity', 'keys/private.pem', '--identity-passphrase-file', 'key-pass']);
    assert.equal(keyOnly.status, 1);
    assert.match(keyOnly.stderr.toString(), /passphrase/);
    const both = sft(['decrypt', 'combined.sft', '-o', 'c3.bin', '--passphrase-file', 'pass', '--identity', 'keys/private.pem', '--identity-passphrase-file', 'key-pass']);
    assert.equal(both.status, 0, both.stderr.toString());

    const inspect = sft(['inspect', 'combined.sft']);
    assert.equal(inspect.status, 0);
    assert.match(inspect.stdout.toString(), /stanza 1: passphrase\+rsa, recipient SHA256:/);
    assert.equal(inspect.stdout.toString().includes('file passphrase'), false);
  });

  test('a changed byte anywhere exits 1 and writes nothing', async () => {
    const sealed = sft(['encrypt', 'plain.bin', '-o', 'victim.sft', '--passphrase-file', 'pass', '--iterations', '100000']);
    assert.equal(sealed.status, 0, sealed.stderr.toString());
    const original = await fs.readFile(path.join(dir, 'victim.sft'));
    const headerLength = original.readUInt32BE(5);
    const positions = [0, 4, 8, 20, 30, headerLength - 1, headerLength, headerLength + 70_000, original.length - 17, original.length - 1];
    for (const position of positions) {
      const bytes = Buffer.from(original);
      bytes[position] ^= 0x01;
      await fs.writeFile(path.join(dir, 'tampered.sft'), bytes);
      const result = sft(['decrypt', 'tampered.sft', '-o', 'tampered.out', '--passphrase-file', 'pass']);
      assert.equal(result.status, 1, `byte ${position}: ${result.stderr.toString()}`);
      assert.equal(await exists('tampered.out'), false, `byte ${position} left output`);
      assert.equal(result.stderr.toString().trim().split('\n').length, 1, 'one line of error');
    }
  });

  test('standard input and output with SFT_PASSPHRASE', () => {
    const plaintext = crypto.randomBytes(70_000);
    const env = { SFT_PASSPHRASE: 'from the environment' };
    const sealed = sft(['encrypt', '-', '-o', '-', '--iterations', '100000'], { input: plaintext, env });
    assert.equal(sealed.status, 0, sealed.stderr.toString());
    const opened = sft(['decrypt', '-', '-o', '-'], { input: sealed.stdout, env });
    assert.equal(opened.status, 0, opened.stderr.toString());
    assert.equal(sha256(opened.stdout), sha256(plaintext));
  });

  test('wrong passphrase exits 1 and names the problem', async () => {
    await fs.writeFile(path.join(dir, 'wrong'), 'not it\n');
    sft(['encrypt', 'plain.bin', '-o', 'w.sft', '--passphrase-file', 'pass', '--iterations', '100000']);
    const result = sft(['decrypt', 'w.sft', '-o', 'w.out', '--passphrase-file', 'wrong']);
    assert.equal(result.status, 1);
    assert.match(result.stderr.toString(), /Wrong passphrase/);
    assert.equal(await exists('w.out'), false);
  });

  test('usage errors exit 2', () => {
    const cases: string[][] = [
      [],
      ['frobnicate'],
      ['encrypt'],
      ['encrypt', 'plain.bin'],
      ['encrypt', 'plain.bin', '-o', 'x.sft'],
      ['encrypt', 'plain.bin', '-o', 'x.sft', '--no-such-option'],
      ['decrypt', 'both.sft', '-o', 'x.bin'],
      ['keygen'],
      ['keygen', '--out', 'k2', '--bits', '1024', '--passphrase-file', 'key-pass'],
      ['help', 'frobnicate'],
      ['encrypt', 'plain.bin', '-o', 'x.sft', '--iterations', 'many', '--passphrase-file', 'pass'],
      ['export', '--store', 'store', 'abc', '-o', '-'],
    ];
    for (const args of cases) {
      const result = sft(args);
      assert.equal(result.status, 2, `sft ${args.join(' ')}: ${result.stderr.toString()}`);
      assert.notEqual(result.stderr.toString().trim(), '', `sft ${args.join(' ')} printed no error`);
    }
  });

  test('account list on a missing store exits 1', async () => {
    const result = sft(['account', 'list', '--store', 'no-such-store']);
    assert.equal(result.status, 1);
    assert.match(result.stderr.toString(), /Store no-such-store not found/);
    assert.equal(await exists('no-such-store'), false);
  });

  test('missing input file exits 1 with its name', () => {
    const result = sft(['encrypt', 'missing.bin', '-o', 'm.sft', '--passphrase-file', 'pass']);
    assert.equal(result.status, 1);
    assert.match(result.stderr.toString(), /missing\.bin not found/);
  });

  test('secret options point to files', () => {
    const result = sft(['encrypt', 'plain.bin', '-o', 'x.sft', '--passphrase', 'hunter2']);
    assert.equal(result.status, 2);
    assert.match(result.stderr.toString(), /--passphrase-file/);
    assert.equal(result.stderr.toString().includes('hunter2'), false);
  });

  test('help for one command exits 0', () => {
    for (const args of [['decrypt', '--help'], ['help', 'keygen']]) {
      const result = sft(args);
      assert.equal(result.status, 0, args.join(' '));
      assert.match(result.stdout.toString(), /^Usage: sft /);
    }
  });
});
