/**
 * Protocol abuse: 300 seeded connections to a real receiver that break the protocol on
 * purpose, before and after login. They send mutated messages and frames, data without an
 * offer, offers whose sizes disagree, envelope headers for another key or of random bytes,
 * more bytes than offered, wrong hashes, and connections cut mid-frame.
 *
 * Every reply from the receiver must be a well-formed message, and only uploads that were
 * whole and correct may be listed. Afterwards the receiver must have no connection left and
 * still take a file from a real sender.
 */
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EnvelopeWriter, parsePublicKey } from '../../src/crypto';
import { isSftError } from '../../src/errors';
import { LoginLimiter } from '../../src/storage/login-limiter';
import { FRAME_HEADER_BYTES, FrameType } from '../../src/transfer/frame';
import { ReceiverMessage, SenderMessage, encodeMessage } from '../../src/transfer/messages';
import { sendFiles } from '../../src/transfer/sender';
import { sampleMessages } from './fuzz/corpus';
import { mutateBytes, mutateMessage } from './fuzz/mutators';
import { HostileReceiver, ITERATIONS, PASSPHRASE, RawClient, receiverKeys, seededBytes, sendOptions, sha256, startReceiver, tempDir } from './receiver-harness';
import { SeededRandom, suiteSeed } from './seeded-random';

const SEED = suiteSeed(0xab05_e300);
const CONNECTIONS = 300;
/** Silence after which a connection's replies are taken as complete. */
const ANSWER_WAIT_MS = 100;
const FINAL_ANSWER_WAIT_MS = 10_000;

let work: string;
let target: HostileReceiver;
let publicKeyPem: string;
let otherKeyPem: string;

before(async () => {
  work = await tempDir('abuse');
  // Many connections fail their login on purpose; a lockout would end the test early.
  target = await startReceiver({
    storeDir: path.join(work, 'store'),
    loginLimiter: new LoginLimiter({ maxFailures: 1_000_000, delaysMs: [0] }),
    limits: { handshakeTimeoutMs: 2_000, idleTimeoutMs: 2_000 },
  });
  publicKeyPem = (await receiverKeys()).envelopePublicKeyPem;
  otherKeyPem = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
});

after(async () => {
  await target.stop();
  await fs.rm(work, { recursive: true, force: true });
});

interface Sealed {
  envelope: Buffer;
  headerSize: number;
  plaintextSize: number;
}

async function seal(keyPem: string, plaintext: Buffer): Promise<Sealed> {
  const writer = await EnvelopeWriter.create(
    [{ kind: 'passphrase+rsa', passphrase: PASSPHRASE, publicKey: parsePublicKey(keyPem), iterations: ITERATIONS }],
    { name: 'abuse.bin', size: plaintext.length, mtimeMs: null },
  );
  const parts: Buffer[] = [writer.header];
  const stream = writer.createPayloadStream();
  stream.on('data', (chunk: Buffer) => parts.push(chunk));
  await new Promise<void>((resolve) => {
    stream.once('end', resolve);
    stream.end(plaintext);
  });
  return { envelope: Buffer.concat(parts), headerSize: writer.header.length, plaintextSize: plaintext.length };
}

function rawFrame(type: number, body: Buffer, announced = body.length): Buffer {
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUInt32BE(announced >>> 0, 0);
  header[4] = type;
  return Buffer.concat([header, body]);
}

/**
 * Reads replies until the receiver goes quiet or closes, and each must parse. With `final`,
 * it first waits up to FINAL_ANSWER_WAIT_MS for the reply to an `end`, because the flush and
 * rename take a while on a busy disk.
 */
async function drain(client: RawClient, answers: ReceiverMessage[], final = false): Promise<void> {
  for (;;) {
    const waiting = final && !answers.some((answer) => ['confirmed', 'reject', 'error'].includes(answer.type));
    try {
      answers.push(await client.next(waiting ? FINAL_ANSWER_WAIT_MS : ANSWER_WAIT_MS));
    } catch (error) {
      // A timeout or a closed connection ends the reading, but a malformed reply is a failure.
      if (isSftError(error, 'TIMEOUT', 'CONNECTION_FAILED')) return;
      throw error;
    }
  }
}

describe('protocol abuse', () => {
  test(`${CONNECTIONS} abusive connections`, { timeout: 180_000 }, async (t) => {
    const random = new SeededRandom(SEED, 1);
    const { sender } = sampleMessages(publicKeyPem);
    const streams = [Buffer.concat(sender.map(encodeMessage)), rawFrame(FrameType.data, Buffer.alloc(300, 1))];
    const plaintext = seededBytes(150_000, SEED);
    const good = await seal(publicKeyPem, plaintext);
    const foreign = await seal(otherKeyPem, plaintext);
    const confirmed = new Set<string>();
    const answerTypes = new Map<string, number>();
    const actionsRun = new Map<string, number>();

    for (let connection = 0; connection < CONNECTIONS; connection++) {
      const client = await RawClient.connect(target.port);
      const write = (bytes: Buffer): void => {
        if (!client.socket.destroyed) client.socket.write(bytes);
      };
      const send = (message: SenderMessage): void => write(encodeMessage(message));
      const answers: ReceiverMessage[] = [];
      try {
        if (random.chance(0.2)) {
          // Before login: mutated frames or a mutated hello or login.
          const action = random.pick(['bytes', 'hello', 'login']);
          actionsRun.set(`before-login ${action}`, (actionsRun.get(`before-login ${action}`) ?? 0) + 1);
          if (action === 'bytes') write(mutateBytes(random, random.pick(streams), streams));
          else write(rawFrame(FrameType.control, Buffer.from(mutateMessage(random, sender[action === 'hello' ? 0 : 1] as unknown as Record<string, unknown>))));
          await drain(client, answers);
        } else {
          const login = await client.login();
          assert.equal(login.type, 'login-ok', JSON.stringify(login));
          const steps = random.between(1, 4);
          for (let step = 0; step < steps && !client.socket.destroyed; step++) {
            const transferId = crypto.randomBytes(16).toString('hex');
            const useForeign = random.chance(0.15);
            const sealed = useForeign ? foreign : good;
            const offer = { type: 'offer' as const, transferId, name: 'abuse.bin', path: 'abuse.bin', size: sealed.envelope.length, headerSize: sealed.headerSize, plaintextSize: sealed.plaintextSize };
            const action = random.pick(['whole', 'wrong-hash', 'extra-bytes', 'mutated-offer', 'bad-sizes', 'data-first', 'stray-end', 'garbage-header', 'cut', 'mutated-frames']);
            actionsRun.set(action, (actionsRun.get(action) ?? 0) + 1);
            const data = (bytes: Buffer): void => {
              for (let offset = 0; offset < bytes.length; offset += 64 * 1024) write(rawFrame(FrameType.data, bytes.subarray(offset, offset + 64 * 1024)));
            };
            if (action === 'mutated-offer') {
              write(rawFrame(FrameType.control, Buffer.from(mutateMessage(random, offer as unknown as Record<string, unknown>))));
            } else if (action === 'bad-sizes') {
              send({ ...offer, size: offer.size + random.between(-20, 20) || offer.size + 1 });
            } else if (action === 'data-first') {
              data(sealed.envelope.subarray(0, 1000));
            } else if (action === 'stray-end') {
              send(random.chance(0.5) ? { type: 'end', transferId, sha256: sha256(sealed.envelope) } : { type: 'cancel', transferId });
            } else if (action === 'mutated-frames') {
              write(mutateBytes(random, rawFrame(FrameType.data, sealed.envelope.subarray(0, 2000)), streams));
            } else {
              send(offer);
              let envelope = sealed.envelope;
              if (action === 'garbage-header') envelope = Buffer.concat([random.bytes(sealed.headerSize), envelope.subarray(sealed.headerSize)]);
              if (action === 'extra-bytes') envelope = Buffer.concat([envelope, Buffer.alloc(random.between(1, 5000))]);
              if (action === 'cut') {
                const cut = random.below(envelope.length);
                data(envelope.subarray(0, cut));
                write(rawFrame(FrameType.data, envelope.subarray(cut, cut + 10), 1000));
                client.socket.end();
              } else {
                data(envelope);
                const digest = action === 'wrong-hash' ? sha256(Buffer.concat([envelope, Buffer.from([1])])) : sha256(envelope);
                send({ type: 'end', transferId, sha256: digest });
              }
            }
            const before = answers.length;
            await drain(client, answers, action === 'whole' || action === 'wrong-hash');
            // Later steps may find the connection in any state an earlier abuse left it in.
            if (action === 'whole' && !useForeign && step === 0) {
              assert.ok(answers.slice(before).some((answer) => answer.type === 'confirmed'), `connection ${connection}: a whole upload was not confirmed`);
            }
          }
        }
      } finally {
        client.close();
      }
      for (const answer of answers) {
        const key = answer.type === 'error' || answer.type === 'reject' ? `${answer.type} ${answer.code}` : answer.type;
        answerTypes.set(key, (answerTypes.get(key) ?? 0) + 1);
        if (answer.type === 'confirmed') confirmed.add(answer.entryId);
      }
    }

    t.diagnostic(`seed ${SEED}: actions ${[...actionsRun].map(([name, count]) => `${name} ${count}`).join(', ')}`);
    t.diagnostic(`answers ${[...answerTypes].map(([name, count]) => `${name} ${count}`).join(', ')}`);

    // Only whole, correct uploads are listed, and each contains the envelope that was sent.
    const entries = target.store.list();
    assert.deepEqual(entries.map((entry) => entry.id).sort(), [...confirmed].sort(), 'the listed entries differ from the confirmed ones');
    for (const entry of entries) assert.equal(entry.sha256, sha256(good.envelope), `entry ${entry.id} holds other bytes`);
    assert.ok(confirmed.size > 0, 'no upload went through, so the test checked nothing');

    // No connection is left, and a real sender still gets through.
    for (let waited = 0; target.receiver.connectionCount > 0 && waited < 5_000; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(target.receiver.connectionCount, 0);
    const file = path.join(work, 'after-abuse.bin');
    await fs.writeFile(file, plaintext);
    const result = await sendFiles(await sendOptions(target.port, [file]));
    assert.deepEqual(result.files.map((entry) => entry.status), ['delivered']);
  });
});
