import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { SftError, isSftError } from '../../src/errors';
import { LoginLimiter } from '../../src/storage/login-limiter';
import { sendFiles } from '../../src/transfer/sender';
import { PASSWORD, USER, sendOptions, startReceiver, tempDir, writeRandomFile } from './helpers';

async function attempt(port: number, file: string, username: string, password: string, localAddress = '127.0.0.1'): Promise<SftError | undefined> {
  try {
    await sendFiles(await sendOptions(port, [file], { username, password, localAddress, retry: { attempts: 0, baseDelayMs: 1 } }));
    return undefined;
  } catch (error) {
    assert.ok(error instanceof SftError, String(error));
    return error;
  }
}

test('wrong password and unknown user look alike', async () => {
  const target = await startReceiver();
  const source = await tempDir('source');
  try {
    const file = path.join(source, 'a.txt');
    await writeRandomFile(file, 100);
    const failedLogins: { username: string; reason: string }[] = [];
    target.receiver.on('login-failed', (info) => failedLogins.push(info));

    const wrongPassword = await attempt(target.port, file, USER, 'not the password');
    const unknownUser = await attempt(target.port, file, 'mallory', 'not the password');
    assert.equal(wrongPassword?.code, 'LOGIN_FAILED');
    assert.equal(unknownUser?.code, 'LOGIN_FAILED');
    assert.equal(wrongPassword?.message, unknownUser?.message);
    assert.equal(target.store.list().length, 0);

    assert.deepEqual(failedLogins.map((info) => [info.username, info.reason]), [[USER, 'invalid'], ['mallory', 'invalid']]);
    const warnings = target.lines.warn.join('\n');
    assert.match(warnings, /Login failed for user "alice" from 127\.0\.0\.1/);
    assert.match(warnings, /Login failed for user "mallory" from 127\.0\.0\.1/);
    assert.ok(!warnings.includes('not the password'), 'the password is never logged');
    assert.ok(!target.lines.info.join('\n').includes('not the password'));

    assert.equal(await attempt(target.port, file, USER, PASSWORD), undefined);
    assert.equal(target.store.list().length, 1);
  } finally {
    await target.stop();
    await fs.rm(source, { recursive: true, force: true });
    await fs.rm(target.storeDir, { recursive: true, force: true });
  }
});

test('lockout holds and spares other addresses', async () => {
  let now = 1_000_000;
  const windowMs = 15 * 60 * 1000;
  const limiter = new LoginLimiter({ maxFailures: 5, windowMs, delaysMs: [0], now: () => now });
  const target = await startReceiver({ loginLimiter: limiter });
  const source = await tempDir('source');
  try {
    const file = path.join(source, 'a.txt');
    await writeRandomFile(file, 100);

    for (let i = 0; i < 5; i++) {
      const error = await attempt(target.port, file, USER, `guess ${i}`);
      assert.equal(error?.code, 'LOGIN_FAILED', `guess ${i}`);
    }
    // The right password from the locked address is rejected without a check.
    const locked = await attempt(target.port, file, USER, PASSWORD);
    assert.equal(locked?.code, 'LOGIN_LOCKED');
    assert.match(locked?.message ?? '', /Try again in \d+ s/);
    assert.equal(target.store.list().length, 0);

    // The same user from another loopback address still logs in.
    assert.equal(await attempt(target.port, file, USER, PASSWORD, '127.0.0.2'), undefined);
    assert.equal(target.store.list().length, 1);

    // Still locked until the window passes, then the first address works again.
    now += windowMs - 1000;
    assert.equal((await attempt(target.port, file, USER, PASSWORD))?.code, 'LOGIN_LOCKED');
    now += 2000;
    assert.equal(await attempt(target.port, file, USER, PASSWORD), undefined);
    assert.equal(target.store.list().length, 2);
  } finally {
    await target.stop();
    await fs.rm(source, { recursive: true, force: true });
    await fs.rm(target.storeDir, { recursive: true, force: true });
  }
});

test('login failures are not retried', async () => {
  const target = await startReceiver();
  const source = await tempDir('source');
  try {
    const file = path.join(source, 'a.txt');
    await writeRandomFile(file, 100);
    let connections = 0;
    target.receiver.on('connection', () => connections++);
    await assert.rejects(
      sendFiles(await sendOptions(target.port, [file], { password: 'wrong', retry: { attempts: 5, baseDelayMs: 1 } })),
      (error) => isSftError(error, 'LOGIN_FAILED'),
    );
    assert.equal(connections, 1);
  } finally {
    await target.stop();
    await fs.rm(source, { recursive: true, force: true });
    await fs.rm(target.storeDir, { recursive: true, force: true });
  }
});

test('parallel correct logins from one address', async () => {
  const target = await startReceiver();
  const source = await tempDir('source');
  try {
    const files: string[] = [];
    for (let i = 0; i < 8; i++) {
      const file = path.join(source, `f${i}.bin`);
      await writeRandomFile(file, 1000);
      files.push(file);
    }

    // The default limiter counts a login as failed until it succeeds, so without serialized
    // logins the sixth parallel sender from one address would be locked out.
    const results = await Promise.all(files.map((file) => attempt(target.port, file, USER, PASSWORD)));

    assert.deepEqual(results.map((error) => error?.message), files.map(() => undefined));
    assert.equal(target.store.list().length, files.length);
  } finally {
    await target.stop();
    await fs.rm(source, { recursive: true, force: true });
    await fs.rm(target.storeDir, { recursive: true, force: true });
  }
});
