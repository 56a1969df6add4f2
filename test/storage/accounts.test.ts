import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { isSftError } from '../../src/errors';
import { Accounts, ACCOUNTS_FILE_NAME, DEFAULT_SCRYPT_PARAMS, validatePassword, validateUsername } from '../../src/storage/accounts';

// Cheap scrypt parameters keep the suite fast; one test below uses the defaults.
const FAST = { N: 2 ** 10, r: 8, p: 1 };

let root: string;

before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'sft-accounts-'));
});

after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

async function newStoreDir(): Promise<string> {
  return fs.mkdtemp(path.join(root, 'store-'));
}

describe('Accounts', () => {
  it('adds, verifies and lists', async () => {
    const accounts = await Accounts.open(await newStoreDir(), { scrypt: FAST });
    await accounts.add('alice', 'correct horse');
    await accounts.add('bob', 'battery staple');

    assert.equal(await accounts.verify('alice', 'correct horse'), true);
    assert.equal(await accounts.verify('bob', 'battery staple'), true);
    assert.deepEqual((await accounts.list()).map((account) => account.username), ['alice', 'bob']);
  });

  it('rejects a wrong password', async () => {
    const accounts = await Accounts.open(await newStoreDir(), { scrypt: FAST });
    await accounts.add('alice', 'correct horse');

    assert.equal(await accounts.verify('alice', 'correct horsE'), false);
    assert.equal(await accounts.verify('alice', ''), false);
    assert.equal(await accounts.verify('alice', 'x'.repeat(5000)), false);
  });

  it('rejects an unknown or invalid username', async () => {
    const accounts = await Accounts.open(await newStoreDir(), { scrypt: FAST });
    await accounts.add('alice', 'pw');

    assert.equal(await accounts.verify('mallory', 'pw'), false);
    assert.equal(await accounts.verify('', 'pw'), false);
    assert.equal(await accounts.verify('../alice', 'pw'), false);
    assert.equal(await accounts.verify(undefined as unknown as string, 'pw'), false);
  });

  it('rejects a duplicate username', async () => {
    const accounts = await Accounts.open(await newStoreDir(), { scrypt: FAST });
    await accounts.add('alice', 'one');

    await assert.rejects(accounts.add('alice', 'two'), (error: unknown) => isSftError(error, 'ACCOUNT_EXISTS'));
    assert.equal(await accounts.verify('alice', 'one'), true);
  });

  it('removes an account', async () => {
    const accounts = await Accounts.open(await newStoreDir(), { scrypt: FAST });
    await accounts.add('alice', 'pw');
    await accounts.remove('alice');

    assert.equal(await accounts.verify('alice', 'pw'), false);
    assert.deepEqual(await accounts.list(), []);
    await assert.rejects(accounts.remove('alice'), (error: unknown) => isSftError(error, 'ACCOUNT_NOT_FOUND'));
  });

  it('matches NFC and NFD forms of a password', async () => {
    const accounts = await Accounts.open(await newStoreDir(), { scrypt: FAST });
    await accounts.add('alice', 'caf\u00e9');

    assert.equal(await accounts.verify('alice', 'cafe\u0301'), true);
  });

  it('stores no password, and a salt per account', async () => {
    const dir = await newStoreDir();
    const accounts = await Accounts.open(dir, { scrypt: FAST });
    await accounts.add('alice', 'same-secret-password');
    await accounts.add('bob', 'same-secret-password');

    const text = await fs.readFile(path.join(dir, ACCOUNTS_FILE_NAME), 'utf8');
    assert.ok(!text.includes('same-secret-password'));
    assert.ok(!text.includes(Buffer.from('same-secret-password').toString('base64')));

    const file = JSON.parse(text) as { accounts: Array<{ salt: string; hash: string; scrypt: { N: number; r: number; p: number } }> };
    assert.notEqual(file.accounts[0].salt, file.accounts[1].salt);
    assert.notEqual(file.accounts[0].hash, file.accounts[1].hash);
    assert.deepEqual(file.accounts[0].scrypt, { ...FAST, keyLength: 32 });
  });

  it('writes the file with mode 0600 and no temporary files', { skip: process.platform === 'win32' && 'POSIX modes only' }, async () => {
    const dir = await newStoreDir();
    const accounts = await Accounts.open(dir, { scrypt: FAST });
    await accounts.add('alice', 'pw');

    const stats = await fs.stat(path.join(dir, ACCOUNTS_FILE_NAME));
    assert.equal(stats.mode & 0o777, 0o600);
    assert.deepEqual(await fs.readdir(dir), [ACCOUNTS_FILE_NAME]);
  });

  it('sees accounts added by another instance', async () => {
    const dir = await newStoreDir();
    const receiver = await Accounts.open(dir, { scrypt: FAST });
    const command = await Accounts.open(dir, { scrypt: FAST });

    await command.add('carol', 'pw');
    assert.equal(await receiver.verify('carol', 'pw'), true);
  });

  it('keeps the parameters each account was hashed with', async () => {
    const dir = await newStoreDir();
    const old = await Accounts.open(dir, { scrypt: FAST });
    await old.add('alice', 'pw');

    const upgraded = await Accounts.open(dir, { scrypt: { N: 2 ** 11 } });
    assert.equal(await upgraded.verify('alice', 'pw'), true);
  });

  it('serializes concurrent adds', async () => {
    const accounts = await Accounts.open(await newStoreDir(), { scrypt: FAST });
    const names = Array.from({ length: 12 }, (_, index) => `user${index}`);
    await Promise.all(names.map((name) => accounts.add(name, `pw-${name}`)));

    assert.equal((await accounts.list()).length, names.length);
  });

  it('rejects a damaged file with STORE_CORRUPT', async () => {
    const dir = await newStoreDir();
    await fs.writeFile(path.join(dir, ACCOUNTS_FILE_NAME), '{"version":1,"accounts":[{"username":"a"');

    const accounts = Accounts.open(dir, { scrypt: FAST });
    await assert.rejects(accounts, (error: unknown) => isSftError(error, 'STORE_CORRUPT') && error.message.includes(ACCOUNTS_FILE_NAME));
  });

  it('rejects hostile scrypt parameters in the file', async () => {
    const dir = await newStoreDir();
    const accounts = await Accounts.open(dir, { scrypt: FAST });
    await accounts.add('alice', 'pw');

    const file = path.join(dir, ACCOUNTS_FILE_NAME);
    const data = JSON.parse(await fs.readFile(file, 'utf8'));
    data.accounts[0].scrypt.N = 2 ** 30;
    await fs.writeFile(file, JSON.stringify(data));

    await assert.rejects(accounts.verify('alice', 'pw'), (error: unknown) => isSftError(error, 'STORE_CORRUPT') && /N must be/.test(error.message));
  });

  it('rejects invalid scrypt options', async () => {
    await assert.rejects(Accounts.open(await newStoreDir(), { scrypt: { N: 1000 } }), (error: unknown) => isSftError(error, 'USAGE'));
  });

  it('takes as long for unknown users as for known ones', async () => {
    const accounts = await Accounts.open(await newStoreDir(), { scrypt: DEFAULT_SCRYPT_PARAMS });
    await accounts.add('alice', 'pw');

    const median = async (username: string): Promise<number> => {
      const times: number[] = [];
      for (let round = 0; round < 7; round += 1) {
        const start = process.hrtime.bigint();
        await accounts.verify(username, 'wrong password');
        times.push(Number(process.hrtime.bigint() - start) / 1e6);
      }
      return times.sort((a, b) => a - b)[3];
    };

    const known = await median('alice');
    const unknown = await median('nobody');
    // scrypt dominates both, so without the stand-in hash an unknown user would take well
    // under 1 ms. Only that leak is checked: other test files loading the machine make
    // any tighter bound flaky.
    assert.ok(unknown > known * 0.2, `unknown ${unknown.toFixed(1)} ms vs known ${known.toFixed(1)} ms`);
  });
});

describe('validateUsername', () => {
  it('accepts the documented character set', () => {
    for (const name of ['a', 'alice', 'Bob_2', 'x.y-z', 'me@example.org', 'a'.repeat(64)]) {
      assert.doesNotThrow(() => validateUsername(name), name);
    }
  });

  it('rejects others', () => {
    for (const name of ['', '.hidden', '-dash', 'a b', 'a/b', 'ä', 'a\u0000', 'a'.repeat(65), '@x']) {
      assert.throws(() => validateUsername(name), (error: unknown) => isSftError(error, 'USAGE'), JSON.stringify(name));
    }
  });
});

describe('validatePassword', () => {
  it('rejects empty and overlong passwords', () => {
    assert.throws(() => validatePassword(''), (error: unknown) => isSftError(error, 'USAGE'));
    assert.throws(() => validatePassword('x'.repeat(1025)), (error: unknown) => isSftError(error, 'USAGE'));
    assert.doesNotThrow(() => validatePassword('x'.repeat(1024)));
  });

  it('never puts the password in the message', () => {
    assert.throws(() => validatePassword('y'.repeat(2000)), (error: unknown) => error instanceof Error && !error.message.includes('yyyy'));
  });
});
