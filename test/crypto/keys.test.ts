import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { decryptFile, encryptFile, fingerprint, generateKeyPair, loadPrivateKey, loadPublicKey, writeKeyPair } from '../../src/crypto';
import { isSftError } from '../../src/errors';

let dir: string;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sft-keys-'));
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

test('generated private key opens in openssl pkey', async () => {
  const pair = await generateKeyPair('key pass', 2048);
  const { privatePath, publicPath } = await writeKeyPair(path.join(dir, 'ours'), pair);

  assert.equal((await fs.stat(privatePath)).mode & 0o777, 0o600);
  assert.match(await fs.readFile(privatePath, 'utf8'), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
  const passFile = path.join(dir, 'pass.txt');
  await fs.writeFile(passFile, 'key pass');
  const pubFromOpenssl = execFileSync('openssl', ['pkey', '-in', privatePath, '-passin', `file:${passFile}`, '-pubout'], { encoding: 'utf8' });
  assert.equal(pubFromOpenssl.trim(), (await fs.readFile(publicPath, 'utf8')).trim());

  const params = execFileSync('openssl', ['asn1parse', '-in', privatePath], { encoding: 'utf8' });
  assert.match(params, /PBES2/);
  assert.match(params, /hmacWithSHA256/);
  assert.match(params, /aes-256-cbc/);
  assert.match(params, /INTEGER\s+:0927C0\b/, 'PBKDF2 iteration count 600000 (0x0927C0)');

  await fs.writeFile(passFile, 'not the pass');
  assert.throws(() => execFileSync('openssl', ['pkey', '-in', privatePath, '-passin', `file:${passFile}`, '-noout'], { stdio: 'pipe' }));
});

test('openssl genpkey keys encrypt and decrypt', async () => {
  const keyPath = path.join(dir, 'openssl.pem');
  const pubPath = path.join(dir, 'openssl.pub.pem');
  execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', keyPath], { stdio: 'pipe' });
  execFileSync('openssl', ['pkey', '-in', keyPath, '-pubout', '-out', pubPath], { stdio: 'pipe' });
  const encryptedKey = path.join(dir, 'openssl-enc.pem');
  execFileSync('openssl', ['pkey', '-in', keyPath, '-aes-256-cbc', '-passout', 'pass:opensslpass', '-out', encryptedKey], { stdio: 'pipe' });

  const input = path.join(dir, 'plain.bin');
  const bytes = crypto.randomBytes(70_000);
  await fs.writeFile(input, bytes);
  const sealed = path.join(dir, 'plain.sft');
  await encryptFile(input, sealed, [{ kind: 'rsa', publicKey: await loadPublicKey(pubPath) }]);

  for (const identity of [await loadPrivateKey(keyPath), await loadPrivateKey(encryptedKey, 'opensslpass')]) {
    const out = path.join(dir, `plain-${crypto.randomBytes(3).toString('hex')}.out`);
    await decryptFile(sealed, out, { privateKeys: [identity] });
    assert.ok((await fs.readFile(out)).equals(bytes));
  }
});

test('fingerprint matches openssl SPKI digest', async () => {
  const pair = await generateKeyPair('p', 2048);
  const der = crypto.createPublicKey(pair.publicKeyPem).export({ type: 'spki', format: 'der' });
  const pubPath = path.join(dir, 'fp.pub.pem');
  await fs.writeFile(pubPath, pair.publicKeyPem);
  const opensslDer = execFileSync('openssl', ['pkey', '-pubin', '-in', pubPath, '-outform', 'DER']);
  assert.ok(opensslDer.equals(der));
  const expected = 'SHA256:' + crypto.createHash('sha256').update(opensslDer).digest('base64').replace(/=+$/, '');
  assert.equal(pair.fingerprint, expected);
  assert.equal(fingerprint(crypto.createPublicKey(pair.publicKeyPem)), expected);
  assert.doesNotMatch(pair.fingerprint, /=/);
});

test('key errors are typed', async () => {
  const pair = await generateKeyPair('right', 2048);
  const file = path.join(dir, 'typed.pem');
  await fs.writeFile(file, pair.privateKeyPem);
  const code = async (promise: Promise<unknown>): Promise<string> => promise.then(() => 'none', (error: unknown) => (isSftError(error) ? error.code : String(error)));

  assert.equal(await code(loadPrivateKey(file, 'wrong')), 'KEY_PASSPHRASE_WRONG');
  assert.equal(await code(loadPrivateKey(file)), 'KEY_PASSPHRASE_MISSING');
  assert.equal(await code(loadPublicKey(path.join(dir, 'missing.pem'))), 'FILE_NOT_FOUND');
  await fs.writeFile(path.join(dir, 'junk.pem'), 'not a key');
  assert.equal(await code(loadPublicKey(path.join(dir, 'junk.pem'))), 'KEY_INVALID');
  assert.equal(await code(generateKeyPair('x', 1024)), 'USAGE');

  const small = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 });
  await fs.writeFile(path.join(dir, 'small.pem'), small.publicKey.export({ type: 'spki', format: 'pem' }));
  assert.equal(await code(loadPublicKey(path.join(dir, 'small.pem'))), 'KEY_TOO_SMALL');

  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  await fs.writeFile(path.join(dir, 'ec.pem'), ec.publicKey.export({ type: 'spki', format: 'pem' }));
  assert.equal(await code(loadPublicKey(path.join(dir, 'ec.pem'))), 'KEY_INVALID');
});

test('key generation leaves the event loop free', async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  await generateKeyPair('p', 3072);
  clearInterval(timer);
  assert.ok(ticks > 2, `event loop ticked only ${ticks} times during generation`);
});

test('writeKeyPair refuses to overwrite', async () => {
  const pair = await generateKeyPair('p', 2048);
  const target = path.join(dir, 'twice');
  await writeKeyPair(target, pair);
  await assert.rejects(writeKeyPair(target, pair), (error: unknown) => isSftError(error, 'FILE_EXISTS'));
});
