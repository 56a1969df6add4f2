import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isSftError } from '../../src/errors';
import { certificateFingerprint, createTlsIdentity, isFingerprint, parseFingerprint } from '../../src/transfer/identity';
import { KnownReceivers } from '../../src/transfer/known-receivers';

test('certificate checks out with openssl', async () => {
  const identity = await createTlsIdentity({ bits: 2048 });
  assert.ok(isFingerprint(identity.fingerprint), identity.fingerprint);

  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sft-identity-'));
  try {
    const certFile = path.join(dir, 'cert.pem');
    await fs.writeFile(certFile, identity.certPem);
    // A self-signed certificate verifies against itself.
    const verify = execFileSync('openssl', ['verify', '-CAfile', certFile, '-partial_chain', certFile]).toString();
    assert.match(verify, /OK/);
    const digest = execFileSync('openssl', ['x509', '-in', certFile, '-noout', '-fingerprint', '-sha256']).toString();
    const hex = digest.split('=')[1].trim().replace(/:/g, '');
    const expected = 'SHA256:' + Buffer.from(hex, 'hex').toString('base64').replace(/=+$/, '');
    assert.equal(identity.fingerprint, expected);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }

  const certificate = new crypto.X509Certificate(identity.certPem);
  assert.ok(certificate.checkPrivateKey(crypto.createPrivateKey(identity.keyPem)));
  assert.equal(certificateFingerprint(certificate.raw), identity.fingerprint);
});

test('fingerprint text validated', () => {
  const good = 'SHA256:' + 'abc+/'.repeat(8) + 'xyz';
  assert.equal(parseFingerprint(` ${good} `, '--trust'), good);
  for (const bad of ['', 'SHA256:', 'sha256:' + 'a'.repeat(43), 'SHA256:' + 'a'.repeat(44), 'SHA256:' + 'a'.repeat(42) + '=']) {
    assert.throws(() => parseFingerprint(bad, '--trust'), (error) => isSftError(error, 'USAGE') && error.message.includes('--trust'), bad);
  }
});

test('known receivers persist and keep comments', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sft-known-'));
  try {
    const file = path.join(dir, 'sub', 'known_receivers');
    const first = 'SHA256:' + 'A'.repeat(43);
    const second = 'SHA256:' + 'B'.repeat(43);
    const known = await KnownReceivers.load(file);
    assert.equal(known.get('127.0.0.1:7443'), undefined);
    await known.set('127.0.0.1:7443', first);
    await known.set('[::1]:7443', second);
    await fs.appendFile(file, '# a comment\n');

    const reloaded = await KnownReceivers.load(file);
    assert.equal(reloaded.get('127.0.0.1:7443'), first);
    assert.equal(reloaded.get('[0:0:0:0:0:0:0:1]:7443'), undefined);
    assert.equal(reloaded.get('[::1]:7443'), second);
    await reloaded.set('127.0.0.1:7443', second);
    const text = await fs.readFile(file, 'utf8');
    assert.match(text, /# a comment/);
    assert.equal(text.split('\n').filter((line) => line.startsWith('127.0.0.1:7443')).length, 1);
    assert.equal((await fs.stat(file)).mode & 0o777, 0o600);

    await fs.writeFile(file, '127.0.0.1:7443 not-a-fingerprint\n');
    await assert.rejects(KnownReceivers.load(file), (error) => isSftError(error, 'IO_FAILED') && error.message.includes('line 1'));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
