import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { Identities, Recipient } from '../../src/crypto';
import {
  EnvelopeWriter,
  SEALED_CHUNK_SIZE,
  StanzaType,
  decryptFile,
  derivePassphraseKey,
  encryptFile,
  inspectEnvelope,
  openEnvelope,
  parseHeader,
} from '../../src/crypto';
import { isSftError } from '../../src/errors';

const ITERATIONS = 100_000;
const SIZES = [0, 1, 65535, 65536, 65537, 10 * 1024 * 1024];

let dir: string;
let rsaA: crypto.KeyPairKeyObjectResult;
let rsaB: crypto.KeyPairKeyObjectResult;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sft-envelope-'));
  rsaA = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  rsaB = crypto.generateKeyPairSync('rsa', { modulusLength: 3072 });
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

function sha256(bytes: Buffer): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

async function writeInput(name: string, size: number): Promise<{ file: string; bytes: Buffer }> {
  const bytes = crypto.randomBytes(size);
  const file = path.join(dir, name);
  await fs.writeFile(file, bytes);
  return { file, bytes };
}

async function exists(file: string): Promise<boolean> {
  return fs.stat(file).then(() => true, () => false);
}

describe('envelope round trips', () => {
  const cases: Array<{ label: string; recipients: () => Recipient[]; identities: () => Identities }> = [
    {
      label: 'passphrase',
      recipients: () => [{ kind: 'passphrase', passphrase: 'pass phrase', iterations: ITERATIONS }],
      identities: () => ({ passphrase: 'pass phrase' }),
    },
    {
      label: 'rsa',
      recipients: () => [{ kind: 'rsa', publicKey: rsaA.publicKey }],
      identities: () => ({ privateKeys: [rsaA.privateKey] }),
    },
    {
      label: 'passphrase+rsa',
      recipients: () => [{ kind: 'passphrase+rsa', passphrase: 'both', publicKey: rsaB.publicKey, iterations: ITERATIONS }],
      identities: () => ({ passphrase: 'both', privateKeys: [rsaB.privateKey] }),
    },
  ];

  for (const size of SIZES) {
    for (const c of cases) {
      test(`${c.label}, ${size} bytes`, async () => {
        const input = await writeInput(`in-${c.label}-${size}`, size);
        const sealed = path.join(dir, `sealed-${c.label}-${size}.sft`);
        const opened = path.join(dir, `opened-${c.label}-${size}`);

        await encryptFile(input.file, sealed, c.recipients());
        const metadata = await decryptFile(sealed, opened, c.identities());

        assert.equal(sha256(await fs.readFile(opened)), sha256(input.bytes));
        assert.equal(metadata.name, path.basename(input.file));
        assert.equal(metadata.size, size);
        const expected = (await fs.stat(input.file)).mtimeMs;
        assert.equal(metadata.mtimeMs, Math.trunc(expected));
      });
    }
  }

  test('several stanzas: each one alone decrypts', async () => {
    const input = await writeInput('several', 200_000);
    const sealed = path.join(dir, 'several.sft');
    await encryptFile(input.file, sealed, [
      { kind: 'passphrase', passphrase: 'first', iterations: ITERATIONS },
      { kind: 'rsa', publicKey: rsaA.publicKey },
      { kind: 'rsa', publicKey: rsaB.publicKey },
    ]);
    const readers: Array<[string, Identities]> = [
      ['passphrase', { passphrase: 'first' }],
      ['key A', { privateKeys: [rsaA.privateKey] }],
      ['key B', { privateKeys: [rsaB.privateKey] }],
    ];
    for (const [label, identities] of readers) {
      const opened = path.join(dir, `several-${label}`);
      await decryptFile(sealed, opened, identities);
      assert.equal(sha256(await fs.readFile(opened)), sha256(input.bytes), label);
    }
  });

  test('plaintext name, size and time are not in clear', async () => {
    const input = await writeInput('quarterly-secret-report.txt', 5000);
    const sealed = path.join(dir, 'meta.sft');
    await encryptFile(input.file, sealed, [{ kind: 'passphrase', passphrase: 'p', iterations: ITERATIONS }]);
    const bytes = await fs.readFile(sealed);
    assert.equal(bytes.includes(Buffer.from('quarterly-secret-report')), false);
    assert.equal(bytes.includes(Buffer.from('"size"')), false);
  });

  test('standard input to standard output', async () => {
    const plaintext = crypto.randomBytes(100_000);
    const sealedChunks: Buffer[] = [];
    const sink = new (await import('node:stream')).PassThrough();
    sink.on('data', (chunk: Buffer) => sealedChunks.push(chunk));
    const metadata = await encryptFile('-', '-', [{ kind: 'passphrase', passphrase: 'x', iterations: ITERATIONS }], {
      stdin: Readable.from([plaintext], { objectMode: false }),
      stdout: sink,
    });
    assert.equal(metadata.size, null);

    const openedChunks: Buffer[] = [];
    const out = new (await import('node:stream')).PassThrough();
    out.on('data', (chunk: Buffer) => openedChunks.push(chunk));
    await decryptFile('-', '-', { passphrase: 'x' }, { stdin: Readable.from([Buffer.concat(sealedChunks)], { objectMode: false }), stdout: out });
    assert.equal(sha256(Buffer.concat(openedChunks)), sha256(plaintext));
  });
});

describe('envelope rejections', () => {
  let sealed: string;
  let original: Buffer;
  let headerLength: number;

  before(async () => {
    const input = await writeInput('victim', 3 * 65536 + 10);
    sealed = path.join(dir, 'victim.sft');
    await encryptFile(input.file, sealed, [{ kind: 'passphrase+rsa', passphrase: 'pw', publicKey: rsaA.publicKey, iterations: ITERATIONS }]);
    original = await fs.readFile(sealed);
    headerLength = original.readUInt32BE(5);
  });

  async function expectFailure(bytes: Buffer, code: string, identities = { passphrase: 'pw', privateKeys: [rsaA.privateKey] }): Promise<void> {
    const file = path.join(dir, `bad-${crypto.randomBytes(4).toString('hex')}.sft`);
    const target = path.join(dir, `out-${crypto.randomBytes(4).toString('hex')}`);
    await fs.writeFile(file, bytes);
    await assert.rejects(decryptFile(file, target, identities), (error: unknown) => {
      assert.ok(isSftError(error), `expected SftError, got ${String(error)}`);
      assert.equal(error.code, code);
      return true;
    });
    assert.equal(await exists(target), false, 'target must not exist after a failure');
    const leftovers = (await fs.readdir(dir)).filter((name) => name.endsWith('.partial'));
    assert.deepEqual(leftovers, []);
  }

  test('wrong passphrase is named', async () => {
    await expectFailure(original, 'ENVELOPE_WRONG_PASSPHRASE', { passphrase: 'nope', privateKeys: [rsaA.privateKey] });
  });

  test('wrong private key is named', async () => {
    await expectFailure(original, 'ENVELOPE_WRONG_KEY', { passphrase: 'pw', privateKeys: [rsaB.privateKey] });
  });

  test('missing passphrase for combined stanza', async () => {
    await expectFailure(original, 'ENVELOPE_NO_MATCHING_STANZA', { privateKeys: [rsaA.privateKey] } as never);
  });

  test('truncation at every chunk boundary', async () => {
    for (let cut = headerLength; cut < original.length; cut += SEALED_CHUNK_SIZE) {
      await expectFailure(original.subarray(0, cut), 'ENVELOPE_TRUNCATED');
    }
  });

  test('truncation inside a chunk', async () => {
    await expectFailure(original.subarray(0, headerLength + SEALED_CHUNK_SIZE + 500), 'ENVELOPE_PAYLOAD_TAMPERED');
    await expectFailure(original.subarray(0, original.length - 1), 'ENVELOPE_PAYLOAD_TAMPERED');
  });

  test('truncation inside the header', async () => {
    await expectFailure(original.subarray(0, headerLength - 1), 'ENVELOPE_TRUNCATED');
    await expectFailure(original.subarray(0, 5), 'ENVELOPE_TRUNCATED');
    await expectFailure(Buffer.alloc(0), 'ENVELOPE_TRUNCATED');
  });

  test('two chunks swapped', async () => {
    const swapped = Buffer.from(original);
    const a = headerLength;
    const b = headerLength + SEALED_CHUNK_SIZE;
    original.copy(swapped, a, b, b + SEALED_CHUNK_SIZE);
    original.copy(swapped, b, a, a + SEALED_CHUNK_SIZE);
    await expectFailure(swapped, 'ENVELOPE_PAYLOAD_TAMPERED');
  });

  test('full last chunk followed by appended data', async () => {
    const input = await writeInput('exact', 2 * 65536);
    const file = path.join(dir, 'exact.sft');
    await encryptFile(input.file, file, [{ kind: 'passphrase', passphrase: 'pw', iterations: ITERATIONS }]);
    const bytes = await fs.readFile(file);
    await expectFailure(Buffer.concat([bytes, bytes.subarray(bytes.length - SEALED_CHUNK_SIZE)]), 'ENVELOPE_TRAILING_DATA', { passphrase: 'pw' } as never);
    await expectFailure(Buffer.concat([bytes, Buffer.from([0])]), 'ENVELOPE_TRAILING_DATA', { passphrase: 'pw' } as never);
  });

  test('crafted iteration count is rejected before deriving', async () => {
    const crafted = Buffer.from(original);
    // Combined stanza: 26 + type(1) + length(2) + fingerprint(32) + salt length(1) + salt(16), then the count.
    crafted.writeUInt32BE(0xffffffff, 26 + 3 + 32 + 1 + 16);
    await expectFailure(crafted, 'ENVELOPE_LIMIT_EXCEEDED');
  });

  test('huge header length is rejected', async () => {
    const crafted = Buffer.from(original);
    crafted.writeUInt32BE(0x7fffffff, 5);
    await expectFailure(crafted, 'ENVELOPE_LIMIT_EXCEEDED');
  });

  test('wrong secrets fail before the payload is read', async () => {
    let payloadReads = 0;
    const header = original.subarray(0, headerLength);
    const source = new Readable({
      read() {
        if (payloadReads === 0) {
          payloadReads++;
          this.push(header);
        } else {
          payloadReads++;
          this.push(original.subarray(headerLength));
          this.push(null);
        }
      },
    });
    await assert.rejects(openEnvelope(source, { passphrase: 'wrong', privateKeys: [rsaA.privateKey] }), /Wrong passphrase/);
    assert.ok(payloadReads <= 2);
  });
});

/** Seals `plaintext` in memory and returns the whole envelope. */
async function sealBytes(plaintext: Buffer, recipients: Recipient[]): Promise<Buffer> {
  const writer = await EnvelopeWriter.create(recipients, { name: 'in-memory.bin', size: plaintext.length, mtimeMs: null });
  return streamEnvelope(writer, plaintext);
}

/** Returns the writer's header followed by its payload stream's output for `plaintext`. */
async function streamEnvelope(writer: EnvelopeWriter, plaintext: Buffer): Promise<Buffer> {
  const payload = writer.createPayloadStream();
  const parts: Buffer[] = [writer.header];
  payload.on('data', (chunk: Buffer) => parts.push(chunk));
  const ended = new Promise((resolve, reject) => payload.on('end', resolve).on('error', reject));
  payload.end(plaintext);
  await ended;
  return Buffer.concat(parts);
}

async function openBytes(envelope: Buffer, identities: Identities): Promise<{ plaintext: Buffer; stanzaType: number }> {
  const opened = await openEnvelope(Readable.from([envelope]), identities);
  const parts: Buffer[] = [];
  for await (const chunk of opened.payload) parts.push(chunk as Buffer);
  return { plaintext: Buffer.concat(parts), stanzaType: opened.stanza.type };
}

test('sealWhole matches the streamed envelope', async () => {
  for (const size of [0, 1, 65536, 65537, 200_000]) {
    const plaintext = crypto.randomBytes(size);
    const writer = await EnvelopeWriter.create([{ kind: 'rsa', publicKey: rsaA.publicKey }], { name: 'same.bin', size, mtimeMs: null });
    const whole = writer.sealWhole(plaintext);
    assert.ok(whole.equals(await streamEnvelope(writer, plaintext)), `${size} bytes`);
    assert.equal(whole.length, writer.sizeFor(size));
  }
});

describe('one passphrase key for several envelopes', () => {
  test('shared key wraps with distinct nonces', async () => {
    const key = await derivePassphraseKey('shared pass', ITERATIONS);
    const inputs = [crypto.randomBytes(100), crypto.randomBytes(70_000)];
    const envelopes = [
      await sealBytes(inputs[0], [{ kind: 'passphrase', passphrase: key }]),
      await sealBytes(inputs[1], [{ kind: 'passphrase+rsa', passphrase: key, publicKey: rsaA.publicKey }]),
    ];
    const stanzas = envelopes.map((envelope) => parseHeader(envelope.subarray(0, envelope.readUInt32BE(5))).stanzas[0]);
    assert.deepEqual(stanzas.map((stanza) => stanza.type), [StanzaType.sharedPassphrase, StanzaType.sharedPassphraseRsa]);
    for (const stanza of stanzas) {
      assert.ok('salt' in stanza, 'a passphrase stanza has a salt');
      assert.ok(stanza.salt.equals(key.salt), 'the stanza uses the shared salt');
      assert.equal(stanza.iterations, ITERATIONS);
    }
    const nonces = stanzas.map((stanza) => ('nonce' in stanza ? stanza.nonce.toString('hex') : ''));
    assert.notEqual(nonces[0], nonces[1]);
    assert.notEqual(nonces[0], '00'.repeat(12));

    assert.ok((await openBytes(envelopes[0], { passphrase: 'shared pass' })).plaintext.equals(inputs[0]));
    const second = await openBytes(envelopes[1], { passphrase: 'shared pass', privateKeys: [rsaA.privateKey] });
    assert.ok(second.plaintext.equals(inputs[1]));
    await assert.rejects(openBytes(envelopes[0], { passphrase: 'other pass' }), (error: unknown) => isSftError(error) && error.code === 'ENVELOPE_WRONG_PASSPHRASE');
  });

  test('invalid key derivation input rejected', async () => {
    await assert.rejects(derivePassphraseKey(''), (error: unknown) => isSftError(error) && error.code === 'USAGE');
    await assert.rejects(derivePassphraseKey('pass', 1000), /iteration count 1000 is outside/);
  });

  test('legacy stanza types still open', async () => {
    const vectors = path.join(__dirname, '..', '..', '..', 'test', 'vectors');
    const legacy = await openBytes(await fs.readFile(path.join(vectors, 'legacy-type1-passphrase.sft')), { passphrase: 'correct horse battery staple' });
    assert.equal(legacy.stanzaType, StanzaType.passphrase);
    assert.equal(legacy.plaintext.toString('utf8'), 'hello, envelope\n');
    const privateKey = crypto.createPrivateKey(await fs.readFile(path.join(vectors, 'test-only-rsa-2048.pem')));
    const combined = await openBytes(await fs.readFile(path.join(vectors, 'legacy-type3-combined.sft')), {
      passphrase: 'correct horse battery staple',
      privateKeys: [privateKey],
    });
    assert.equal(combined.stanzaType, StanzaType.passphraseRsa);
    assert.equal(combined.plaintext.length, 70_000);
  });
});

describe('inspect', () => {
  test('lists stanza types and fingerprints only', async () => {
    const input = await writeInput('inspect-me', 10);
    const file = path.join(dir, 'inspect.sft');
    await encryptFile(input.file, file, [
      { kind: 'passphrase', passphrase: 'secret-pass', iterations: ITERATIONS },
      { kind: 'passphrase+rsa', passphrase: 'secret-pass', publicKey: rsaA.publicKey, iterations: ITERATIONS },
    ]);
    const info = await inspectEnvelope(file);
    assert.equal(info.version, 1);
    assert.deepEqual(info.stanzas.map((s) => s.type), ['passphrase', 'passphrase+rsa']);
    assert.match(info.stanzas[1].fingerprint ?? '', /^SHA256:[A-Za-z0-9+/]{43}$/);
  });
});
