/**
 * Secrets: a full run of the `sft` command line (keygen, encrypt, decrypt, account add,
 * receive, a failed and a good send, list, export). Then every file the run wrote, the
 * receiver's log and every command's output included, is searched for each password,
 * passphrase and private key in clear.
 *
 * Each secret is searched for as UTF-8, UTF-16LE, hex and base64. A private key is searched
 * for as the lines of its unencrypted PEM and as the raw bytes of its private exponent and
 * primes. The receiver's TLS key is stored unencrypted by design (it must be there at every
 * start), so only its own file may hold it.
 */
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import { createWriteStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { loadReceiverPrivateKey } from '../../src/transfer/receiver-keys';
import { listFiles, seededBytes, tempDir } from './receiver-harness';

const SFT = path.join(__dirname, '..', '..', '..', 'bin', 'sft.js');
const SECRETS = {
  accountPassword: 'secrets-suite-account-password-c4e1',
  wrongPassword: 'secrets-suite-wrong-password-7a9b',
  envelopePassphrase: 'secrets-suite-envelope-passphrase-52d8',
  identityPassphrase: 'secrets-suite-identity-passphrase-e07f',
  zipPassword: 'secrets-suite-zip-password-1b36',
  keygenPassphrase: 'secrets-suite-keygen-passphrase-9f42',
  filePassphrase: 'secrets-suite-file-passphrase-3d70',
};

let root: string;
let secretsDir: string;
let logsDir: string;
let receiver: ChildProcess | undefined;

before(async () => {
  root = await tempDir('secrets');
  secretsDir = path.join(root, 'secret-inputs');
  logsDir = path.join(root, 'logs');
  await fs.mkdir(secretsDir);
  await fs.mkdir(logsDir);
  for (const [name, value] of Object.entries(SECRETS)) {
    await fs.writeFile(path.join(secretsDir, name), `${value}\n`, { mode: 0o600 });
  }
});

after(async () => {
  receiver?.kill('SIGKILL');
  await fs.rm(root, { recursive: true, force: true });
});

function secretFile(name: keyof typeof SECRETS): string {
  return path.join(secretsDir, name);
}

/** Returns the environment of every command: a fresh home, so the sender's files land under `root`. */
function commandEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: path.join(root, 'home'), XDG_CONFIG_HOME: path.join(root, 'config'), LANG: 'C.UTF-8' };
}

/** Runs `sft ARGS`, writes its output to the logs folder, and returns its exit status and output. */
async function sft(label: string, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [SFT, ...args], { env: commandEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const status = await new Promise<number | null>((resolve) => child.once('close', resolve));
  await fs.writeFile(path.join(logsDir, `${label}.stdout`), stdout);
  await fs.writeFile(path.join(logsDir, `${label}.stderr`), stderr);
  return { status, stdout, stderr };
}

/** Byte patterns that would show `secret` in clear. */
function textPatterns(secret: string): Buffer[] {
  const utf8 = Buffer.from(secret, 'utf8');
  return [utf8, Buffer.from(secret, 'utf16le'), Buffer.from(utf8.toString('hex')), Buffer.from(utf8.toString('base64').replace(/=+$/, ''))];
}

/** Byte patterns that would show a private key in clear: unencrypted PEM lines, and d, p and q. */
function keyPatterns(key: crypto.KeyObject): Buffer[] {
  const pem = key.export({ type: 'pkcs8', format: 'pem' }).toString();
  // The first lines of a PKCS#8 body encode the version, the algorithm and the modulus,
  // which the public key contains too. The later lines encode only private values.
  const lines = pem.split('\n').filter((line) => line.length === 64).slice(10);
  const jwk = key.export({ format: 'jwk' });
  const numbers = [jwk.d, jwk.p, jwk.q].map((value) => Buffer.from(value as string, 'base64url'));
  return [...lines.map((line) => Buffer.from(line)), ...numbers, ...numbers.map((value) => Buffer.from(value.toString('base64').slice(0, 40)))];
}

describe('secrets', () => {
  test('no secret in clear after a full command-line run', { timeout: 240_000 }, async (t) => {
    const store = path.join(root, 'store');
    const sources = path.join(root, 'sources', 'folder');
    await fs.mkdir(sources, { recursive: true });
    for (let i = 0; i < 3; i++) await fs.writeFile(path.join(sources, `file-${i}.bin`), seededBytes(50_000 + i * 70_000, 900 + i));

    // Stand-alone tools: keygen, encrypt to the new key and a passphrase, decrypt.
    const keys = path.join(root, 'keys');
    assert.equal((await sft('keygen', ['keygen', '--out', keys, '--bits', '2048', '--passphrase-file', secretFile('keygenPassphrase')])).status, 0);
    const publicKey = (await fs.readdir(keys)).find((name) => name.includes('public'));
    const privateKeyFile = (await fs.readdir(keys)).find((name) => !name.includes('public'));
    assert.ok(publicKey, `keygen wrote no public key: ${await fs.readdir(keys)}`);
    assert.ok(privateKeyFile, `keygen wrote no private key: ${await fs.readdir(keys)}`);
    const sealed = path.join(root, 'tools', 'file-0.sft');
    await fs.mkdir(path.dirname(sealed));
    const encrypted = await sft('encrypt', ['encrypt', path.join(sources, 'file-0.bin'), '-o', sealed, '--recipient', path.join(keys, publicKey),
      '--passphrase-file', secretFile('filePassphrase'), '--require-both']);
    assert.equal(encrypted.status, 0, encrypted.stderr);
    const decrypted = await sft('decrypt', ['decrypt', sealed, '-o', path.join(root, 'tools', 'file-0.out'), '--passphrase-file', secretFile('filePassphrase'),
      '--identity', path.join(keys, privateKeyFile), '--identity-passphrase-file', secretFile('keygenPassphrase')]);
    assert.equal(decrypted.status, 0, decrypted.stderr);

    // A receiver with an encrypted envelope key, an account, a failed and a good send.
    assert.equal((await sft('account-add', ['account', 'add', 'alice', '--store', store, '--password-file', secretFile('accountPassword')])).status, 0);
    const portFile = path.join(root, 'port');
    receiver = spawn(process.execPath, [SFT, 'receive', '--store', store, '--port', '0', '--port-file', portFile, '--identity-passphrase-file', secretFile('identityPassphrase')], {
      env: commandEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    receiver.stderr?.pipe(createWriteStream(path.join(logsDir, 'receive.stderr')));
    const link = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('sft receive printed no link within 60 s')), 60_000);
      receiver?.once('exit', (code) => reject(new Error(`sft receive exited with ${code}`)));
      readline.createInterface({ input: receiver?.stdout as NodeJS.ReadableStream }).once('line', (line) => {
        clearTimeout(timer);
        resolve(line.trim());
      });
    });
    await fs.writeFile(path.join(logsDir, 'receive.stdout'), `${link}\n`);
    assert.match(link, /^sft:\/\/127\.0\.0\.1:\d+#SHA256:/);

    const failed = await sft('send-wrong-password', ['send', '--to', link, '--user', 'alice', '--password-file', secretFile('wrongPassword'),
      '--passphrase-file', secretFile('envelopePassphrase'), '--retries', '0', sources]);
    assert.notEqual(failed.status, 0, 'a wrong password was accepted');
    const sent = await sft('send', ['send', '--to', link, '--user', 'alice', '--password-file', secretFile('accountPassword'),
      '--passphrase-file', secretFile('envelopePassphrase'), sources]);
    assert.equal(sent.status, 0, sent.stderr);

    // List and export every file to a password-protected ZIP.
    const listed = await sft('list', ['list', '--store', store, '--json']);
    assert.equal(listed.status, 0, listed.stderr);
    const entries = JSON.parse(listed.stdout) as Array<{ id: string }>;
    assert.equal(entries.length, 3);
    await fs.mkdir(path.join(root, 'exports'));
    for (const entry of entries) {
      const exported = await sft(`export-${entry.id}`, ['export', '--store', store, entry.id, '-o', path.join(root, 'exports', `${entry.id}.zip`),
        '--passphrase-file', secretFile('envelopePassphrase'), '--zip-password-file', secretFile('zipPassword'),
        '--identity-passphrase-file', secretFile('identityPassphrase')]);
      assert.equal(exported.status, 0, exported.stderr);
    }

    // Graceful stop: SIGTERM, as a user's Ctrl+C would.
    const stopped = new Promise((resolve) => receiver?.once('exit', resolve));
    receiver.kill('SIGTERM');
    await stopped;
    receiver = undefined;

    // Search every file the run wrote, except the secret inputs the test itself wrote.
    const textSecrets = Object.entries(SECRETS).map(([name, value]) => ({ name, patterns: textPatterns(value) }));
    const envelopeKey = await loadReceiverPrivateKey(store, SECRETS.identityPassphrase);
    const keygenKey = crypto.createPrivateKey({ key: await fs.readFile(path.join(keys, privateKeyFile)), passphrase: SECRETS.keygenPassphrase });
    const tlsKeyFile = path.join(store, 'identity', 'tls-key.pem');
    const tlsKey = crypto.createPrivateKey(await fs.readFile(tlsKeyFile));
    const keySecrets = [
      { name: 'receiver envelope private key', patterns: keyPatterns(envelopeKey), allowedIn: [] as string[] },
      { name: 'keygen private key', patterns: keyPatterns(keygenKey), allowedIn: [] as string[] },
      { name: 'receiver TLS private key', patterns: keyPatterns(tlsKey), allowedIn: [tlsKeyFile] },
    ];

    const files = (await listFiles(root)).filter((file) => !file.startsWith(secretsDir + path.sep));
    const findings: string[] = [];
    for (const file of files) {
      const bytes = await fs.readFile(file);
      for (const secret of textSecrets) {
        if (secret.patterns.some((pattern) => bytes.includes(pattern))) findings.push(`${secret.name} in ${path.relative(root, file)}`);
      }
      for (const secret of keySecrets) {
        if (secret.allowedIn.includes(file)) continue;
        if (secret.patterns.some((pattern) => bytes.includes(pattern))) findings.push(`${secret.name} in ${path.relative(root, file)}`);
      }
    }
    t.diagnostic(`searched ${files.length} files (${files.map((file) => path.relative(root, file)).filter((name) => !name.startsWith('sources')).join(', ')})`);
    assert.deepEqual(findings, []);

    // The searches can find what they look for: each secret in its input file, and the TLS
    // key in its own file, where it is kept in clear.
    for (const secret of textSecrets) {
      const input = await fs.readFile(path.join(secretsDir, secret.name));
      assert.ok(secret.patterns.some((pattern) => input.includes(pattern)), `the search does not find ${secret.name} in its input file`);
    }
    const tlsBytes = await fs.readFile(tlsKeyFile);
    assert.ok(keySecrets[2].patterns.some((pattern) => tlsBytes.includes(pattern)), 'the key search does not find a key stored in clear');

    // Files that hold secrets are readable by their owner only.
    for (const file of [tlsKeyFile, path.join(store, 'identity', 'envelope-key.pem'), path.join(store, 'accounts.json'), path.join(keys, privateKeyFile)]) {
      const mode = (await fs.stat(file)).mode & 0o777;
      assert.equal(mode & 0o077, 0, `${path.relative(root, file)} has mode ${mode.toString(8)}`);
    }
    assert.equal((await fs.stat(store)).mode & 0o077, 0, 'the store folder is open to other users');
  });
});
