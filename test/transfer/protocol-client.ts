/**
 * A bare protocol client for tests: sends whatever messages and frames a test chooses,
 * including ones a real sender never would, and reads the receiver's answers.
 */
import * as crypto from 'node:crypto';
import * as tls from 'node:tls';
import { EnvelopeWriter, parsePublicKey } from '../../src/crypto';
import { FrameChannel } from '../../src/transfer/channel';
import { DEFAULT_FRAME_LIMITS } from '../../src/transfer/frame';
import { Offer, ReceiverMessage, SenderMessage, parseReceiverMessage } from '../../src/transfer/messages';
import { PASSPHRASE, PASSWORD, TEST_ITERATIONS, USER } from './helpers';

export class ProtocolClient {
  private constructor(readonly channel: FrameChannel) {}

  static async connect(port: number, host = '127.0.0.1'): Promise<ProtocolClient> {
    const socket = tls.connect({ host, port, rejectUnauthorized: false, minVersion: 'TLSv1.3' });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', () => resolve());
      socket.once('error', reject);
    });
    return new ProtocolClient(new FrameChannel(socket, DEFAULT_FRAME_LIMITS, 'test receiver'));
  }

  send(message: SenderMessage): Promise<void> {
    return this.channel.send(message);
  }

  async next(timeoutMs = 5000): Promise<ReceiverMessage> {
    const frame = await this.channel.next(timeoutMs);
    return parseReceiverMessage(frame.body);
  }

  /** Sends hello and login; returns the receiver's public key PEM. */
  async login(username = USER, password = PASSWORD): Promise<string> {
    await this.send({ type: 'hello', versions: [1], software: 'test' });
    const hello = await this.next();
    if (hello.type !== 'hello') {
      throw new Error(`expected hello, got ${JSON.stringify(hello)}`);
    }
    await this.send({ type: 'login', username, password });
    const answer = await this.next();
    if (answer.type !== 'login-ok') {
      throw new Error(`expected login-ok, got ${JSON.stringify(answer)}`);
    }
    return answer.publicKey;
  }

  /**
   * Offers `plaintext` under the raw `name` and `path`, sends it if accepted, and returns the
   * receiver's final answer: `confirmed`, or the `reject`.
   */
  async upload(publicKeyPem: string, name: string, path: string, plaintext: Buffer): Promise<ReceiverMessage> {
    const writer = await EnvelopeWriter.create(
      [{ kind: 'passphrase+rsa', passphrase: PASSPHRASE, publicKey: parsePublicKey(publicKeyPem), iterations: TEST_ITERATIONS }],
      { name: name.length > 0 ? name.slice(0, 1024) : 'unnamed', size: plaintext.length, mtimeMs: Date.now() },
    );
    const payload = await collect(writer.createPayloadStream(0), plaintext);
    const envelope = Buffer.concat([writer.header, payload]);
    const transferId = crypto.randomBytes(16).toString('hex');
    const offer: Offer = {
      type: 'offer',
      transferId,
      name,
      path,
      size: envelope.length,
      headerSize: writer.header.length,
      plaintextSize: plaintext.length,
    };
    await this.send(offer);
    const answer = await this.next();
    if (answer.type !== 'accept') {
      return answer;
    }
    for (let offset = answer.offset; offset < envelope.length; offset += 64 * 1024) {
      await this.channel.sendData(envelope.subarray(offset, Math.min(envelope.length, offset + 64 * 1024)));
    }
    await this.send({ type: 'end', transferId, sha256: crypto.createHash('sha256').update(envelope).digest('hex') });
    for (;;) {
      const result = await this.next();
      if (result.type !== 'committed') {
        return result;
      }
    }
  }

  close(): Promise<void> {
    return this.channel.closeWith({ type: 'bye' });
  }
}

async function collect(transform: NodeJS.ReadWriteStream, input: Buffer): Promise<Buffer> {
  const parts: Buffer[] = [];
  transform.on('data', (part: Buffer) => parts.push(part));
  const done = new Promise<void>((resolve, reject) => {
    transform.on('end', () => resolve());
    transform.on('error', reject);
  });
  transform.end(input);
  await done;
  return Buffer.concat(parts);
}
