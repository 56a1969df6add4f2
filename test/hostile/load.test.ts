/**
 * Load: 32 senders at once, from 32 loopback addresses and 4 accounts. Each has its own
 * passphrase, all send files with the same names, and two files are 64 MiB. Every file must
 * be stored once, under the right account and path, and decrypt with its sender's passphrase
 * to the bytes that sender read.
 */
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openEnvelope } from '../../src/crypto';
import { DEFAULT_CHECKPOINT_INTERVAL_BYTES } from '../../src/storage/store';
import { SendResult, sendFiles } from '../../src/transfer/sender';
import { HostileReceiver, receiverKeys, seededBytes, sendOptions, sha256, startReceiver, tempDir } from './receiver-harness';
import { SeededRandom, suiteSeed } from './seeded-random';

const SEED = suiteSeed(0x10ad_0032);
const SENDERS = 32;
const ACCOUNTS = 4;
const LARGEST_FILE_BYTES = 64 * 1024 * 1024;
const MAX_OTHER_FILE_BYTES = 8 * 1024 * 1024;
/** Senders whose first file is LARGEST_FILE_BYTES. */
const LARGEST_FILE_SENDERS = [0, SENDERS / 2];
/** Sizes at chunk and frame boundaries, mixed in with random ones. */
const EDGE_SIZES = [0, 1, 65_535, 65_536, 65_537, 262_144, 1_048_577];
/** Peak RSS growth allowed for the whole process (receiver and 32 senders), in bytes. */
const MAX_RSS_GROWTH_BYTES = 1024 * 1024 * 1024;

interface SenderPlan {
  index: number;
  username: string;
  password: string;
  passphrase: string;
  address: string;
  folder: string;
  /** Relative path inside the sent folder (with the folder's name) → plaintext SHA-256 and size. */
  files: Map<string, { digest: string; size: number }>;
}

let work: string;
let target: HostileReceiver;
let privateKey: crypto.KeyObject;

before(async () => {
  work = await tempDir('load');
  const users = Array.from({ length: ACCOUNTS }, (_, i): [string, string] => [`loader${i}`, `load-password-${i}-6e21`]);
  target = await startReceiver({
    storeDir: path.join(work, 'store'),
    users,
    limits: { checkpointIntervalBytes: DEFAULT_CHECKPOINT_INTERVAL_BYTES },
    storeOptions: { checkpointIntervalBytes: DEFAULT_CHECKPOINT_INTERVAL_BYTES },
  });
  privateKey = crypto.createPrivateKey((await receiverKeys()).envelopePrivateKeyPem);
});

after(async () => {
  await target.stop();
  await fs.rm(work, { recursive: true, force: true });
});

async function planSenders(random: SeededRandom): Promise<SenderPlan[]> {
  const plans: SenderPlan[] = [];
  for (let index = 0; index < SENDERS; index++) {
    const account = index % ACCOUNTS;
    // Every sender's folder has the same name and the same file names.
    const folder = path.join(work, `sender-${index}`, 'shared');
    await fs.mkdir(path.join(folder, 'sub'), { recursive: true });
    const files = new Map<string, { digest: string; size: number }>();
    const names = ['data.bin', 'sub/data.bin', 'notes.txt'].slice(0, 1 + random.below(3));
    for (const [fileIndex, name] of names.entries()) {
      let size = random.chance(0.3) ? random.pick(EDGE_SIZES) : random.between(1, MAX_OTHER_FILE_BYTES);
      if (LARGEST_FILE_SENDERS.includes(index) && fileIndex === 0) size = LARGEST_FILE_BYTES;
      const bytes = seededBytes(size, SEED + index * 16 + fileIndex);
      await fs.writeFile(path.join(folder, name), bytes);
      files.set(`shared/${name}`, { digest: sha256(bytes), size });
    }
    plans.push({
      index,
      username: `loader${account}`,
      password: `load-password-${account}-6e21`,
      passphrase: `load-passphrase-${index}-${random.next().toString(36)}`,
      address: `127.0.5.${index + 1}`,
      folder,
      files,
    });
  }
  return plans;
}

async function plaintextDigest(entryId: string, passphrase: string): Promise<string> {
  const opened = await openEnvelope(target.store.openEnvelope(entryId), { passphrase, privateKeys: [privateKey] });
  const hash = crypto.createHash('sha256');
  for await (const part of opened.payload) hash.update(part as Buffer);
  return hash.digest('hex');
}

describe('load', () => {
  test(`${SENDERS} concurrent senders`, { timeout: 240_000 }, async (t) => {
    const plans = await planSenders(new SeededRandom(SEED, 1));
    const totalBytes = plans.reduce((sum, plan) => sum + [...plan.files.values()].reduce((bytes, file) => bytes + file.size, 0), 0);
    const rssBefore = process.memoryUsage.rss();

    const started = Date.now();
    const results: SendResult[] = await Promise.all(plans.map(async (plan) => sendFiles(await sendOptions(target.port, [plan.folder], {
      username: plan.username,
      password: plan.password,
      passphrase: plan.passphrase,
      localAddress: plan.address,
      retry: { attempts: 5, baseDelayMs: 100 },
    }))));
    const elapsed = Date.now() - started;
    const peakGrowth = process.resourceUsage().maxRSS * 1024 - rssBefore;
    t.diagnostic(`seed ${SEED}: ${SENDERS} senders, ${plans.reduce((n, plan) => n + plan.files.size, 0)} files, ` +
      `${(totalBytes / 1048576).toFixed(1)} MiB in ${elapsed} ms (${(totalBytes / 1048576 / (elapsed / 1000)).toFixed(1)} MiB/s); ` +
      `peak RSS growth ${(peakGrowth / 1048576).toFixed(0)} MiB`);

    // Nothing lost: every file confirmed, one entry each, no entry shared.
    const seenEntries = new Set<string>();
    for (const [index, result] of results.entries()) {
      const plan = plans[index];
      assert.equal(result.files.length, plan.files.size, `sender ${index}: ${result.files.length} results for ${plan.files.size} files`);
      for (const file of result.files) {
        assert.equal(file.status, 'delivered', `sender ${index}: ${JSON.stringify(file)}`);
        const entryId = (file as { entryId: string }).entryId;
        assert.ok(!seenEntries.has(entryId), `entry ${entryId} was confirmed to two senders`);
        seenEntries.add(entryId);
      }
    }
    const expectedFiles = plans.reduce((n, plan) => n + plan.files.size, 0);
    assert.equal(target.store.list().length, expectedFiles);

    // Nothing mixed up: each entry has its sender's account and path, and opens with its passphrase to its bytes.
    for (const [index, result] of results.entries()) {
      const plan = plans[index];
      for (const file of result.files) {
        const entry = target.store.get((file as { entryId: string }).entryId);
        assert.equal(entry.senderUsername, plan.username, `sender ${index}`);
        assert.equal(entry.remoteAddress, plan.address, `sender ${index}`);
        const sent = plan.files.get(entry.relativePath);
        assert.ok(sent, `sender ${index}: entry path ${entry.relativePath} was never sent by it`);
        assert.equal(entry.plaintextSize, sent.size, `sender ${index} ${entry.relativePath}`);
        assert.equal(await plaintextDigest(entry.id, plan.passphrase), sent.digest, `sender ${index} ${entry.relativePath}: the bytes differ`);
      }
    }
    assert.ok(peakGrowth < MAX_RSS_GROWTH_BYTES, `peak RSS grew by ${(peakGrowth / 1048576).toFixed(0)} MiB`);
  });
});
