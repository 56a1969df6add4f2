/**
 * Crash suite: a receiver child process is killed with SIGKILL at 50 seeded points while a
 * real sender uploads batches of small files through a counting proxy.
 *
 * After each kill, with the receiver down, the store is opened read-only: no partial upload
 * may be listed, and every listed entry must decrypt to the SHA-256 of the file that was
 * sent. The receiver then restarts on the same port and the sender resumes by itself. At the
 * end every file is listed exactly once and exports to a ZIP that 7-Zip extracts to the
 * original bytes.
 */
import assert from 'node:assert/strict';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import { createWriteStream, promises as fs } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { openEnvelope } from '../../src/crypto';
import { Accounts } from '../../src/storage/accounts';
import { Store } from '../../src/storage/store';
import { exportEntryToZip } from '../../src/transfer/export-entry';
import { loadReceiverPrivateKey } from '../../src/transfer/receiver-keys';
import { SendResult, sendFiles } from '../../src/transfer/sender';
import { KnownReceivers } from '../../src/transfer/known-receivers';
import { ITERATIONS, PASSPHRASE, PASSWORD, TEST_SCRYPT, USER, listFiles, seededBytes, sha256, tempDir } from './receiver-harness';
import { SeededRandom, suiteSeed } from './seeded-random';

const SEED = suiteSeed(0xc2a5_4050);
const CRASH_POINTS = 50;
const FILES_PER_BATCH = 5;
/** Files span several of the sender's 256 KiB data frames, so resume points fall inside files. */
const MAX_FILE_BYTES = 640 * 1024;
/** Small, so a kill often lands after a checkpoint and the sender resumes mid-file. */
const CHECKPOINT_INTERVAL_BYTES = 64 * 1024;
const MAX_KILL_THRESHOLD_BYTES = 384 * 1024;
const MAX_KILL_DELAY_MS = 300;
/** Entries exported to a ZIP and extracted by 7-Zip at the end; all of them are decrypted. */
const ZIP_SAMPLE = 12;
const ZIP_PASSWORD = 'crash-suite-zip-password-0c9d';
const CHILD_SCRIPT = path.join(__dirname, 'receiver-process.js');
const SFT = path.join(__dirname, '..', '..', '..', 'bin', 'sft.js');
/** Kills of the real `sft receive`, on top of CRASH_POINTS; its checkpoints are 8 MiB apart. */
const CLI_CRASH_POINTS = 5;
const CLI_MAX_FILE_BYTES = 20 * 1024 * 1024;

let work: string;
let storeDir: string;
let childLog: NodeJS.WritableStream;
const children = new Set<ChildProcess>();
let proxy: CountingProxy | undefined;

before(async () => {
  work = await tempDir('crash');
  storeDir = path.join(work, 'store');
  childLog = createWriteStream(path.join(work, 'receiver.log'));
  const accounts = await Accounts.open(storeDir, { scrypt: TEST_SCRYPT });
  await accounts.add(USER, PASSWORD);
});

after(async () => {
  // A failed assertion leaves the last child running; it must not keep the test process alive.
  for (const child of children) child.kill('SIGKILL');
  await proxy?.stop();
  await fs.rm(work, { recursive: true, force: true });
});

function replay(what: string): string {
  return `${what} (seed ${SEED}; replay with SFT_HOSTILE_SEED=${SEED})`;
}

/** A receiver child process and the transfers it started, with their resume offsets. */
class ChildReceiver {
  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
    readonly fingerprint: string,
    readonly starts: Array<{ transferId: string; offset: number }>,
  ) {}

  static async start(port: number): Promise<ChildReceiver> {
    const config = { storeDir, port, checkpointIntervalBytes: CHECKPOINT_INTERVAL_BYTES };
    const child = spawn(process.execPath, [CHILD_SCRIPT, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    child.once('exit', () => children.delete(child));
    child.stderr?.pipe(childLog, { end: false });
    const starts: Array<{ transferId: string; offset: number }> = [];
    const lines = readline.createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const listening = await new Promise<{ port: number; fingerprint: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the receiver child did not listen within 30 s')), 30_000);
      child.once('exit', (code) => reject(new Error(`the receiver child exited with ${code} before it listened`)));
      lines.on('line', (line) => {
        const event = JSON.parse(line) as { event: string; port: number; fingerprint: string; transferId: string; offset: number };
        if (event.event === 'listening') {
          clearTimeout(timer);
          resolve(event);
        } else if (event.event === 'start') {
          starts.push({ transferId: event.transferId, offset: event.offset });
        }
      });
    });
    return new ChildReceiver(child, listening.port, listening.fingerprint, starts);
  }

  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGKILL');
    await exited;
  }
}

/** Forwards sender connections to the child and calls `onThreshold` once `armed` bytes went through. */
class CountingProxy {
  forwarded = 0;
  private armed: { left: number; onThreshold: () => void } | undefined;
  private readonly sockets = new Set<net.Socket>();

  private constructor(private readonly server: net.Server, public targetPort: number) {}

  static async start(targetPort: number): Promise<CountingProxy> {
    const server = net.createServer();
    const proxy = new CountingProxy(server, targetPort);
    server.on('connection', (client) => proxy.onConnection(client));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  arm(bytes: number, onThreshold: () => void): void {
    this.armed = { left: bytes, onThreshold };
  }

  disarm(): void {
    this.armed = undefined;
  }

  private onConnection(client: net.Socket): void {
    const upstream = net.connect(this.targetPort, '127.0.0.1');
    this.sockets.add(client).add(upstream);
    client.on('data', (chunk: Buffer) => {
      this.forwarded += chunk.length;
      upstream.write(chunk);
      if (this.armed) {
        this.armed.left -= chunk.length;
        if (this.armed.left <= 0) {
          const { onThreshold } = this.armed;
          this.armed = undefined;
          onThreshold();
        }
      }
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    client.once('close', () => this.sockets.delete(client));
    upstream.once('close', () => this.sockets.delete(upstream));
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Files sent, by display name: their plaintext SHA-256. */
const expected = new Map<string, string>();
/** Entries already decrypted and checked; later rounds only re-hash their envelope. */
const verified = new Set<string>();

async function writeBatch(random: SeededRandom, batch: number, prefix = 'b', maxFileBytes = MAX_FILE_BYTES): Promise<string> {
  const folder = path.join(work, `${prefix}atch-${batch}`);
  await fs.mkdir(folder);
  for (let i = 0; i < FILES_PER_BATCH; i++) {
    const name = `${prefix}${batch}-f${i}.bin`;
    const size = random.chance(0.2) ? random.pick([0, 1, 65_535, 65_536, 65_537, 262_144, 262_145]) : random.between(1, maxFileBytes);
    const bytes = seededBytes(size, SEED + batch * 100 + i);
    await fs.writeFile(path.join(folder, name), bytes);
    expected.set(name, sha256(bytes));
  }
  return folder;
}

/** Checks, with the receiver down, that every listed entry is complete and contains the bytes that were sent. */
async function verifyStore(dir: string, privateKey: crypto.KeyObject, when: string): Promise<number> {
  const store = await Store.open(dir, { readOnly: true });
  const entries = store.list();
  const transferIds = new Set<string>();
  for (const entry of entries) {
    assert.ok(!transferIds.has(entry.transferId), replay(`${when}: transfer ${entry.transferId} is listed twice`));
    transferIds.add(entry.transferId);
    const envelope = await fs.readFile(path.join(dir, 'files', `${entry.id}.sft`));
    assert.equal(envelope.length, entry.envelopeSize, replay(`${when}: ${entry.displayName} is listed with ${entry.envelopeSize} bytes but has ${envelope.length}`));
    assert.equal(sha256(envelope), entry.sha256, replay(`${when}: the envelope of ${entry.displayName} does not match its listed SHA-256`));
    if (verified.has(entry.id)) continue;

    const opened = await openEnvelope(store.openEnvelope(entry.id), { passphrase: PASSPHRASE, privateKeys: [privateKey] });
    const hash = crypto.createHash('sha256');
    for await (const part of opened.payload) hash.update(part as Buffer);
    assert.equal(hash.digest('hex'), expected.get(entry.displayName), replay(`${when}: ${entry.displayName} decrypts to other bytes`));
    verified.add(entry.id);
  }
  await store.close();
  return entries.length;
}

describe('crash', () => {
  test(`receiver killed at ${CRASH_POINTS} seeded points`, { timeout: 300_000 }, async (t) => {
    const random = new SeededRandom(SEED, 1);
    let receiver = await ChildReceiver.start(0);
    const port = receiver.port;
    const relay = await CountingProxy.start(port);
    proxy = relay;
    const privateKey = await loadReceiverPrivateKey(storeDir);
    const knownReceivers = await KnownReceivers.load(path.join(work, 'known_receivers'));
    const resumedStarts: number[] = [];

    let batch = 0;
    const results: SendResult[] = [];
    let sending: Promise<void> | undefined;
    const startBatch = async (): Promise<void> => {
      const folder = await writeBatch(random, batch++);
      sending = sendFiles({
        to: `127.0.0.1:${relay.port}`,
        username: USER,
        password: PASSWORD,
        passphrase: PASSPHRASE,
        paths: [folder],
        trust: receiver.fingerprint,
        knownReceivers,
        iterations: ITERATIONS,
        retry: { attempts: 40, baseDelayMs: 50 },
      }).then((result) => {
        results.push(result);
        sending = undefined;
      });
    };

    const started = Date.now();
    await startBatch();
    for (let kill = 0; kill < CRASH_POINTS; kill++) {
      // A kill point is a byte count through the proxy, then a delay. The bytes place it after
      // the TLS handshake, login or some file data. The delay lets the receiver work through
      // its socket buffers, so the kill also lands after checkpoints, renames and index writes.
      const threshold = random.chance(0.15) ? random.between(1, 4096) : random.between(4096, MAX_KILL_THRESHOLD_BYTES);
      const delayMs = random.chance(0.2) ? 0 : random.between(1, MAX_KILL_DELAY_MS);
      const current = receiver;
      const crashed = new Promise<void>((resolve) => relay.arm(threshold, () => {
        setTimeout(() => void current.kill().then(resolve), delayMs);
      }));
      // The current batch may finish before the threshold; then the next batch carries on.
      for (;;) {
        const current = sending;
        const outcome = await Promise.race([crashed.then(() => 'crashed' as const), (current ?? Promise.resolve()).then(() => 'batch-done' as const)]);
        if (outcome === 'crashed') break;
        await startBatch();
      }
      for (const { offset } of receiver.starts) if (offset > 0) resumedStarts.push(offset);

      const listed = await verifyStore(storeDir, privateKey, `after kill ${kill + 1} at ${threshold} bytes and ${delayMs} ms`);
      if (kill % 10 === 9) t.diagnostic(`kill ${kill + 1}: ${listed} entries listed and verified, ${batch} batches, ${relay.forwarded} bytes forwarded`);
      receiver = await ChildReceiver.start(port);
    }
    relay.disarm();
    while (sending) await sending;
    for (const { offset } of receiver.starts) if (offset > 0) resumedStarts.push(offset);
    const elapsed = Date.now() - started;

    // Every file of every batch was delivered, is listed once and contains the right bytes.
    for (const result of results) {
      assert.deepEqual(result.files.filter((file) => file.status !== 'delivered'), [], replay('a file was not delivered'));
    }
    await receiver.kill();
    const listed = await verifyStore(storeDir, privateKey, 'at the end');
    assert.equal(listed, expected.size, replay(`${listed} entries for ${expected.size} files sent`));
    assert.ok(resumedStarts.length > 0, replay('no upload resumed from a committed offset, so the kills never landed after a checkpoint'));
    t.diagnostic(`seed ${SEED}: ${CRASH_POINTS} kills in ${elapsed} ms; ${expected.size} files in ${batch} batches; ` +
      `${resumedStarts.length} uploads resumed from a committed offset; ${relay.forwarded} bytes forwarded`);

    // Stored files export to ZIPs that 7-Zip extracts to the original bytes.
    const store = await Store.open(storeDir, { readOnly: true });
    const exportsDir = path.join(work, 'exports');
    const all = store.list();
    const sample = Array.from({ length: Math.min(ZIP_SAMPLE, all.length) }, () => all.splice(random.below(all.length), 1)[0]);
    for (const entry of sample) {
      const zip = path.join(exportsDir, `${entry.id}.zip`);
      await fs.mkdir(exportsDir, { recursive: true });
      await exportEntryToZip(store, entry.id, { outPath: zip, passphrase: PASSPHRASE, privateKey, zipPassword: ZIP_PASSWORD });
      const out = path.join(exportsDir, entry.id);
      const extracted = spawnSync('7z', ['x', `-p${ZIP_PASSWORD}`, `-o${out}`, '-y', zip], { encoding: 'utf8' });
      assert.equal(extracted.status, 0, extracted.stdout + extracted.stderr);
      const files = await listFiles(out);
      assert.equal(files.length, 1);
      assert.equal(sha256(await fs.readFile(files[0])), expected.get(entry.displayName), `${entry.displayName} exports to other bytes`);
    }
    await store.close();
  });

  test(`sft receive killed at ${CLI_CRASH_POINTS} seeded points`, { timeout: 180_000 }, async (t) => {
    // The real command, with its default 8 MiB checkpoint interval, so files are larger.
    const random = new SeededRandom(SEED, 2);
    const cliStore = path.join(work, 'cli-store');
    const accounts = await Accounts.open(cliStore, { scrypt: TEST_SCRYPT });
    await accounts.add(USER, PASSWORD);
    const startCli = async (port: number): Promise<{ child: ChildProcess; link: string }> => {
      const child = spawn(process.execPath, [SFT, 'receive', '--store', cliStore, '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.add(child);
      child.once('exit', () => children.delete(child));
      child.stderr?.pipe(childLog, { end: false });
      const link = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('sft receive printed no link within 60 s')), 60_000);
        child.once('exit', (code) => reject(new Error(`sft receive exited with ${code} before it listened`)));
        readline.createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', (line) => {
          clearTimeout(timer);
          resolve(line.trim());
        });
      });
      return { child, link };
    };
    const killCli = async (child: ChildProcess): Promise<void> => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    };

    let current = await startCli(0);
    // The link is printed before the port file is written, so the port comes from the link.
    const port = Number(/:(\d+)#/.exec(current.link)?.[1]);
    assert.ok(port > 0, `no port in the link ${current.link}`);
    const fingerprint = current.link.slice(current.link.indexOf('#') + 1);
    const relay = await CountingProxy.start(port);
    const privateKey = await loadReceiverPrivateKey(cliStore);
    const knownReceivers = await KnownReceivers.load(path.join(work, 'cli_known_receivers'));
    const results: SendResult[] = [];
    let batch = 0;
    let sending: Promise<void> | undefined;
    const startBatch = async (): Promise<void> => {
      const folder = await writeBatch(random, batch++, 'c', CLI_MAX_FILE_BYTES);
      sending = sendFiles({
        to: `127.0.0.1:${relay.port}`,
        username: USER,
        password: PASSWORD,
        passphrase: PASSPHRASE,
        paths: [folder],
        trust: fingerprint,
        knownReceivers,
        iterations: ITERATIONS,
        retry: { attempts: 40, baseDelayMs: 50 },
      }).then((result) => {
        results.push(result);
        sending = undefined;
      });
    };

    await startBatch();
    for (let kill = 0; kill < CLI_CRASH_POINTS; kill++) {
      const threshold = random.between(64 * 1024, 12 * 1024 * 1024);
      const delayMs = random.between(0, MAX_KILL_DELAY_MS);
      const victim = current.child;
      const crashed = new Promise<void>((resolve) => relay.arm(threshold, () => {
        setTimeout(() => void killCli(victim).then(resolve), delayMs);
      }));
      // A batch may finish before the threshold; then the next batch carries on.
      for (;;) {
        const outcome = await Promise.race([crashed.then(() => 'crashed' as const), (sending ?? Promise.resolve()).then(() => 'batch-done' as const)]);
        if (outcome === 'crashed') break;
        await startBatch();
      }
      await verifyStore(cliStore, privateKey, `after sft receive kill ${kill + 1} at ${threshold} bytes and ${delayMs} ms`);
      current = await startCli(port);
    }
    relay.disarm();
    while (sending) await sending;
    await killCli(current.child);
    await relay.stop();

    for (const result of results) {
      assert.deepEqual(result.files.filter((file) => file.status !== 'delivered'), [], replay('a file was not delivered'));
    }
    const listed = await verifyStore(cliStore, privateKey, 'at the end of the sft receive run');
    assert.equal(listed, batch * FILES_PER_BATCH, replay(`${listed} entries for ${batch * FILES_PER_BATCH} files sent`));
    t.diagnostic(`seed ${SEED}: ${CLI_CRASH_POINTS} kills of sft receive, ${relay.forwarded} bytes forwarded`);
  });
});
