import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { CuttingProxy, sha256File, tempDir, writeRandomFile } from './helpers';

const SFT = path.join(__dirname, '..', '..', '..', 'bin', 'sft.js');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs sft without blocking the event loop, so the in-process test proxy keeps forwarding. */
function sft(dir: string, args: string[]): Promise<Run> {
  const child = spawn(process.execPath, [SFT, ...args], { cwd: dir, env: { PATH: process.env.PATH, HOME: dir } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
}

/** Starts `sft receive` and resolves once it wrote its port file. */
async function startReceive(dir: string, store: string): Promise<{ child: ChildProcess; port: number; link: string; log: () => string }> {
  const portFile = path.join(dir, `${store}.port`);
  await fs.rm(portFile, { force: true });
  const child = spawn(process.execPath, [SFT, 'receive', '--store', store, '--port', '0', '--port-file', portFile], {
    cwd: dir,
    env: { PATH: process.env.PATH, HOME: dir },
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  for (let i = 0; i < 300; i++) {
    const text = await fs.readFile(portFile, 'utf8').catch(() => '');
    if (text.endsWith('\n') && stdout.includes('\n')) {
      return { child, port: Number(text.trim()), link: stdout.trim(), log: () => stderr };
    }
    if (child.exitCode !== null) {
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`sft receive did not start: ${stderr}`);
}

async function stopReceive(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}

test('sft commands end to end with 7z', async () => {
  const dir = await tempDir('cli');
  let receiver: Awaited<ReturnType<typeof startReceive>> | undefined;
  let proxy: CuttingProxy | undefined;
  try {
    await fs.writeFile(path.join(dir, 'alice-pass'), 'alice password\n');
    await fs.writeFile(path.join(dir, 'pass'), 'file passphrase\n');
    await fs.writeFile(path.join(dir, 'zip-pass'), 'zip password\n');
    const expected = new Map<string, string>();
    expected.set('report.bin', await writeRandomFile(path.join(dir, 'report.bin'), 300_000, 21));
    expected.set('photos/one.jpg', await writeRandomFile(path.join(dir, 'photos', 'one.jpg'), 120_000, 22));
    expected.set('photos/raw/two.raw', await writeRandomFile(path.join(dir, 'photos', 'raw', 'two.raw'), 70_000, 23));

    const added = await sft(dir, ['account', 'add', 'alice', '--store', 'store', '--password-file', 'alice-pass']);
    assert.equal(added.status, 0, added.stderr);
    const accounts = await sft(dir, ['account', 'list', '--store', 'store', '--json']);
    assert.deepEqual(JSON.parse(accounts.stdout).map((item: { username: string }) => item.username), ['alice']);

    receiver = await startReceive(dir, 'store');
    assert.match(receiver.link, new RegExp(`^sft://127\\.0\\.0\\.1:${receiver.port}#SHA256:[A-Za-z0-9+/]{43}$`));
    const fingerprint = receiver.link.split('#')[1];

    const common = ['--user', 'alice', '--password-file', 'alice-pass', '--passphrase-file', 'pass', '--known-receivers', 'known', '--iterations', '100000'];
    const sent = await sft(dir, ['send', '--to', receiver.link, ...common, 'report.bin', 'photos']);
    assert.equal(sent.status, 0, sent.stderr);
    assert.equal(sent.stdout.trim().split('\n').length, 3, sent.stdout);

    // A pinned fingerprint that differs is refused before the login.
    const wrongPin = 'SHA256:' + 'A'.repeat(43);
    const refused = await sft(dir, ['send', '--to', `127.0.0.1:${receiver.port}`, ...common, '--trust', wrongPin, 'report.bin']);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /presented fingerprint .* but SHA256:A{43} was expected/);
    assert.ok(!receiver.log().includes('Login failed'), 'the receiver saw no login');

    // A cut connection resumes through the proxy and still delivers the right bytes.
    // The cut falls inside the third 256 KiB data frame, so the receiver holds two whole ones.
    proxy = await CuttingProxy.start(receiver.port, 700_000);
    const big = await writeRandomFile(path.join(dir, 'big.bin'), 1_500_000, 24);
    const resumed = await sft(dir, ['send', '--to', `127.0.0.1:${proxy.port}`, ...common, '--trust', fingerprint, 'big.bin']);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.equal(proxy.cuts, 1);
    assert.match(receiver.log(), /from byte 524288\./);
    // Everything, plus the uncommitted tail of the first connection, plus TLS and frame overhead.
    const maxForwarded = 1_500_000 + 2_000 + (700_000 - 524_288) + 64 * 1024;
    assert.ok(proxy.forwardedToReceiver <= maxForwarded, `forwarded ${proxy.forwardedToReceiver} bytes, at most ${maxForwarded}`);
    expected.set('big.bin', big);

    const listed = await sft(dir, ['list', '--store', 'store', '--json']);
    assert.equal(listed.status, 0, listed.stderr);
    const entries = JSON.parse(listed.stdout) as { id: string; relativePath: string; displayName: string }[];
    assert.deepEqual(entries.map((entry) => entry.relativePath || entry.displayName).sort(), [...expected.keys()].sort());

    // Restarted, the receiver lists the same entries.
    assert.equal(await stopReceive(receiver.child), 0);
    receiver = await startReceive(dir, 'store');
    assert.equal(receiver.link.split('#')[1], fingerprint, 'the fingerprint survives a restart');
    const relisted = await sft(dir, ['list', '--store', 'store', '--json']);
    assert.deepEqual(JSON.parse(relisted.stdout), entries);
    const table = await sft(dir, ['list', '--store', 'store']);
    assert.match(table.stdout, /^ID +SIZE +RECEIVED +FROM +NAME/);

    for (const entry of entries) {
      const name = entry.relativePath || entry.displayName;
      const zip = `${entry.id}.zip`;
      const exported = await sft(dir, ['export', '--store', 'store', entry.id, '-o', zip, '--passphrase-file', 'pass', '--zip-password-file', 'zip-pass']);
      assert.equal(exported.status, 0, exported.stderr);
      const out = path.join(dir, `x-${entry.id}`);
      const extracted = spawnSync('7z', ['x', '-pzip password', `-o${out}`, '-y', path.join(dir, zip)], { encoding: 'utf8' });
      assert.equal(extracted.status, 0, extracted.stdout + extracted.stderr);
      assert.equal(await sha256File(path.join(out, ...name.split('/'))), expected.get(name), name);
    }

    const wrongPassphrase = await sft(dir, ['export', '--store', 'store', entries[0].id, '-o', 'bad.zip', '--zip-password-file', 'zip-pass', '--passphrase-file', 'zip-pass']);
    assert.equal(wrongPassphrase.status, 1);
    assert.match(wrongPassphrase.stderr, /^sft export: .*passphrase/i);

    const usage = await sft(dir, ['send', '--to', 'nowhere', ...common, 'report.bin']);
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /"nowhere"/);
  } finally {
    await proxy?.stop();
    if (receiver !== undefined && receiver.child.exitCode === null) {
      await stopReceive(receiver.child);
    }
    await fs.rm(dir, { recursive: true, force: true });
  }
});
