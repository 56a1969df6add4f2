/**
 * The fuzzers' seed corpus: envelopes committed under test/hostile/corpus/, and protocol
 * messages built in code.
 *
 * The envelopes are files because RSA-OAEP is randomized: built anew, their bytes would
 * differ on every run, and a failing input could not be replayed from its seed and index.
 * They are sealed to test/vectors/test-only-rsa-2048.pem. Rebuild them with
 * `node out/test/hostile/fuzz/corpus.js --write` after a format change.
 */
import * as crypto from 'node:crypto';
import { readFileSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Recipient } from '../../../src/crypto';
import { EnvelopeWriter } from '../../../src/crypto';
import type { ReceiverMessage, SenderMessage } from '../../../src/transfer/messages';

const REPOSITORY_ROOT = path.join(__dirname, '..', '..', '..', '..');
export const CORPUS_DIR = path.join(REPOSITORY_ROOT, 'test', 'hostile', 'corpus');
export const TEST_KEY_FILE = path.join(REPOSITORY_ROOT, 'test', 'vectors', 'test-only-rsa-2048.pem');
const MANIFEST_FILE = path.join(CORPUS_DIR, 'corpus.json');
/** Passphrase of the passphrase stanza in mixed-stanzas.sft. The fuzzers never give it, so no PBKDF2 runs. */
const CORPUS_PASSPHRASE = 'fuzz corpus passphrase';

interface ManifestEntry {
  file: string;
  description: string;
  plaintextSha256: string;
}

export interface CorpusEnvelope extends ManifestEntry {
  bytes: Buffer;
  headerLength: number;
}

/** Deterministic plaintext, different for each `salt`. */
function plaintextOf(size: number, salt: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 131 + salt * 17 + (i >> 8)) & 0xff;
  return bytes;
}

export function loadTestKey(): crypto.KeyObject {
  return crypto.createPrivateKey(readFileSync(TEST_KEY_FILE, 'utf8'));
}

/** Loads the committed envelopes with their recorded plaintext hashes. */
export function loadEnvelopes(): CorpusEnvelope[] {
  const manifest = JSON.parse(readFileSync(MANIFEST_FILE, 'utf8')) as ManifestEntry[];
  return manifest.map((entry) => {
    const bytes = readFileSync(path.join(CORPUS_DIR, entry.file));
    return { ...entry, bytes, headerLength: bytes.readUInt32BE(5) };
  });
}

/** Valid messages of every type in both directions, as the parsers accept them. */
export function sampleMessages(publicKeyPem: string): { sender: SenderMessage[]; receiver: ReceiverMessage[] } {
  const transferId = '0123456789abcdef0123456789abcdef';
  const sha256 = 'ab'.repeat(32);
  return {
    sender: [
      { type: 'hello', versions: [1], software: 'sft 0.1.0' },
      { type: 'login', username: 'alice', password: 'correct horse' },
      { type: 'offer', transferId, name: 'report.pdf', path: 'docs/report.pdf', size: 70_500, headerSize: 412, plaintextSize: 70_000 },
      { type: 'end', transferId, sha256 },
      { type: 'cancel', transferId },
      { type: 'bye' },
      { type: 'error', code: 'TRANSFER_CANCELLED', message: 'The user cancelled.' },
    ],
    receiver: [
      { type: 'hello', version: 1, software: 'sft 0.1.0' },
      { type: 'login-ok', publicKey: publicKeyPem },
      { type: 'login-failed', reason: 'locked', message: 'Too many failed logins.', retryAfterMs: 60_000 },
      { type: 'accept', transferId, offset: 8_388_608 },
      { type: 'reject', transferId, code: 'DISK_FULL', message: 'Not enough free space.' },
      { type: 'committed', transferId, offset: 16_777_216 },
      { type: 'confirmed', transferId, entryId: 'fedcba9876543210fedcba9876543210' },
      { type: 'bye' },
      { type: 'error', code: 'PROTOCOL_VIOLATION', message: 'Unexpected message.' },
    ],
  };
}

async function seal(recipients: Recipient[], plaintext: Buffer, name: string): Promise<Buffer> {
  const writer = await EnvelopeWriter.create(recipients, { name, size: plaintext.length, mtimeMs: 1_700_000_000_000 });
  const parts: Buffer[] = [writer.header];
  const stream = writer.createPayloadStream();
  stream.on('data', (chunk: Buffer) => parts.push(chunk));
  await new Promise<void>((resolve, reject) => {
    stream.once('end', resolve);
    stream.once('error', reject);
    stream.end(plaintext);
  });
  return Buffer.concat(parts);
}

/** Seals and writes the corpus envelopes and their manifest. */
async function writeCorpus(): Promise<void> {
  const testKey = loadTestKey();
  const publicKey = crypto.createPublicKey(testKey);
  const otherKey = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
  const rsa: Recipient[] = [{ kind: 'rsa', publicKey }];
  const mixed: Recipient[] = [
    { kind: 'passphrase', passphrase: CORPUS_PASSPHRASE, iterations: 100_000 },
    { kind: 'passphrase+rsa', passphrase: CORPUS_PASSPHRASE, publicKey: otherKey, iterations: 100_000 },
    { kind: 'rsa', publicKey },
  ];
  const specs: Array<{ file: string; description: string; recipients: Recipient[]; size: number; name: string }> = [
    { file: 'rsa-empty.sft', description: 'RSA stanza, empty plaintext', recipients: rsa, size: 0, name: 'empty' },
    { file: 'rsa-small.sft', description: 'RSA stanza, 100 bytes', recipients: rsa, size: 100, name: 'small.txt' },
    { file: 'rsa-full-chunk.sft', description: 'RSA stanza, exactly one full chunk', recipients: rsa, size: 65_536, name: 'chunk.bin' },
    { file: 'rsa-two-chunks.sft', description: 'RSA stanza, 70,000 bytes in two chunks', recipients: rsa, size: 70_000, name: 'résumé 報告.pdf' },
    { file: 'mixed-stanzas.sft', description: 'passphrase, passphrase+RSA (another key) and RSA stanzas, 1,000 bytes', recipients: mixed, size: 1000, name: 'mixed.bin' },
  ];

  const manifest: ManifestEntry[] = [];
  for (const [index, spec] of specs.entries()) {
    const plaintext = plaintextOf(spec.size, index);
    await fs.writeFile(path.join(CORPUS_DIR, spec.file), await seal(spec.recipients, plaintext, spec.name));
    manifest.push({ file: spec.file, description: spec.description, plaintextSha256: crypto.createHash('sha256').update(plaintext).digest('hex') });
  }
  await fs.writeFile(MANIFEST_FILE, JSON.stringify(manifest, null, 2) + '\n');
}

if (require.main === module) {
  if (!process.argv.includes('--write')) {
    console.error('Usage: node out/test/hostile/fuzz/corpus.js --write   (rewrites test/hostile/corpus/)');
    process.exit(2);
  }
  fs.mkdir(CORPUS_DIR, { recursive: true })
    .then(writeCorpus)
    .then(() => console.log(`Wrote the fuzz corpus to ${CORPUS_DIR}`))
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
}
