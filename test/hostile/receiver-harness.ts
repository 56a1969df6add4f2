/**
 * A real receiver on a loopback address for the hostile suites, a raw protocol client that
 * sends whatever a test chooses, and the secrets every suite uses.
 */
import * as crypto from 'node:crypto';
import { appendFileSync, promises as fs } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { EnvelopeWriter, parsePublicKey } from '../../src/crypto';
import { Accounts } from '../../src/storage/accounts';
import { LoginLimiter } from '../../src/storage/login-limiter';
import { Store, StoreOptions } from '../../src/storage/store';
import { FrameChannel } from '../../src/transfer/channel';
import { DEFAULT_FRAME_LIMITS } from '../../src/transfer/frame';
import { KnownReceivers } from '../../src/transfer/known-receivers';
import { Offer, ReceiverMessage, SenderMessage, parseReceiverMessage } from '../../src/transfer/messages';
import { Receiver, ReceiverLimits, ReceiverOptions } from '../../src/transfer/receiver';
import { ReceiverKeys, createReceiverKeys } from '../../src/transfer/receiver-keys';
import { SendOptions } from '../../src/transfer/sender';

/** Lowest PBKDF2 count a reader accepts; the suites send many files. */
export const ITERATIONS = 100_000;
/** scrypt cost for test accounts: N = 2^10 instead of 2^15, so 1,000 logins stay fast. */
export const TEST_SCRYPT = { N: 2 ** 10 };
export const USER = 'alice';
/** Distinctive secrets, so a search for them in files and logs cannot match by chance. */
export const PASSWORD = 'hostile-login-password-5d1f8a';
export const PASSPHRASE = 'hostile-envelope-passphrase-93c07e';

let sharedKeys: Promise<ReceiverKeys> | undefined;

/** Returns one receiver key set per test process: a TLS identity and a 2,048-bit envelope key. */
export function receiverKeys(): Promise<ReceiverKeys> {
  sharedKeys ??= createReceiverKeys({ rsaBits: 2048 });
  return sharedKeys;
}

export async function tempDir(prefix: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), `sft-hostile-${prefix}-`));
}

export interface HostileReceiver {
  receiver: Receiver;
  store: Store;
  accounts: Accounts;
  storeDir: string;
  host: string;
  port: number;
  /** Every log line, also appended to `logFile`. */
  log: string[];
  logFile: string;
  stop(): Promise<void>;
}

export interface ReceiverSetup {
  storeDir?: string;
  host?: string;
  port?: number;
  limits?: Partial<ReceiverLimits>;
  loginLimiter?: LoginLimiter;
  storeOptions?: StoreOptions;
  /** Accounts to create; default one account, USER with PASSWORD. */
  users?: Array<[string, string]>;
}

/** Starts a receiver with real TLS, a real store and real accounts. */
export async function startReceiver(setup: ReceiverSetup = {}): Promise<HostileReceiver> {
  const storeDir = setup.storeDir ?? path.join(await tempDir('store'), 'store');
  const logFile = path.join(path.dirname(storeDir), 'receiver.log');
  const log: string[] = [];
  const write = (level: string) => (message: string): void => {
    log.push(`${level} ${message}`);
    appendFileSync(logFile, `${level} ${message}\n`);
  };
  const logger = { info: write('info'), warn: write('warn'), error: write('error') };

  const store = await Store.open(storeDir, { minFreeBytes: 0, ...setup.storeOptions, logger });
  const accounts = await Accounts.open(storeDir, { scrypt: TEST_SCRYPT });
  const existing = new Set((await accounts.list()).map((account) => account.username));
  for (const [username, password] of setup.users ?? [[USER, PASSWORD]]) {
    if (!existing.has(username)) await accounts.add(username, password);
  }
  const keys = await receiverKeys();
  const options: ReceiverOptions = {
    store,
    accounts,
    tls: keys.tls,
    publicKey: keys.envelopePublicKeyPem,
    logger,
    limits: { checkpointIntervalBytes: 256 * 1024, ...setup.limits },
    loginLimiter: setup.loginLimiter,
  };
  const receiver = new Receiver(options);
  const host = setup.host ?? '127.0.0.1';
  const address = await receiver.start({ host, port: setup.port ?? 0 });
  return {
    receiver,
    store,
    accounts,
    storeDir,
    host,
    port: address.port,
    log,
    logFile,
    async stop() {
      await receiver.stop();
      await store.close();
    },
  };
}

/** Options for sendFiles that pin the shared test receiver and use the lowest PBKDF2 count. */
export async function sendOptions(port: number, paths: string[], overrides: Partial<SendOptions> = {}): Promise<SendOptions> {
  const knownDir = await tempDir('known');
  const keys = await receiverKeys();
  return {
    to: `127.0.0.1:${port}`,
    username: USER,
    password: PASSWORD,
    passphrase: PASSPHRASE,
    paths,
    trust: keys.tls.fingerprint,
    knownReceivers: await KnownReceivers.load(path.join(knownDir, 'known_receivers')),
    iterations: ITERATIONS,
    retry: { attempts: 3, baseDelayMs: 20 },
    ...overrides,
  };
}

/** Returns `size` seeded pseudo-random bytes (xorshift32), cheap enough for tens of MiB. */
export function seededBytes(size: number, seed: number): Buffer {
  const bytes = Buffer.alloc(size);
  let state = (seed >>> 0) || 1;
  let i = 0;
  for (; i + 4 <= size; i += 4) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes.writeUInt32LE(state >>> 0, i);
  }
  for (; i < size; i++) bytes[i] = (seed + i) & 0xff;
  return bytes;
}

export function sha256(bytes: Buffer): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

/** Lists every file under `dir`, recursively, as absolute paths. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(full)));
    else out.push(full);
  }
  return out;
}

/**
 * A protocol client without a sender's rules: it sends any message or frame a test picks
 * and reads the receiver's replies. TLS is real; the certificate is not checked, because
 * these tests talk to a receiver they started themselves.
 */
export class RawClient {
  private constructor(readonly channel: FrameChannel, readonly socket: tls.TLSSocket) {}

  static async connect(port: number, options: { host?: string; localAddress?: string; timeoutMs?: number } = {}): Promise<RawClient> {
    const tcp = net.connect({ host: options.host ?? '127.0.0.1', port, localAddress: options.localAddress });
    const socket = tls.connect({ socket: tcp, rejectUnauthorized: false, minVersion: 'TLSv1.3' });
    tcp.once('error', (error) => socket.destroy(error));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`TLS handshake with port ${port} timed out`));
      }, options.timeoutMs ?? 10_000);
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    return new RawClient(new FrameChannel(socket, DEFAULT_FRAME_LIMITS, 'test receiver'), socket);
  }

  send(message: SenderMessage): Promise<void> {
    return this.channel.send(message);
  }

  async next(timeoutMs = 10_000): Promise<ReceiverMessage> {
    const frame = await this.channel.next(timeoutMs);
    return parseReceiverMessage(frame.body);
  }

  /** Sends hello and login and returns the receiver's reply to the login. */
  async login(username = USER, password = PASSWORD): Promise<ReceiverMessage> {
    await this.send({ type: 'hello', versions: [1], software: 'hostile suite' });
    const hello = await this.next();
    if (hello.type !== 'hello') return hello;
    await this.send({ type: 'login', username, password });
    return this.next();
  }

  /**
   * Seals `plaintext` under the raw `name`, offers it with the raw `relativePath`, sends it
   * if accepted, and returns the receiver's final reply and the envelope's SHA-256.
   */
  async upload(publicKeyPem: string, name: string, relativePath: string, plaintext: Buffer): Promise<{ answer: ReceiverMessage; envelopeSha256: string }> {
    const writer = await EnvelopeWriter.create(
      [{ kind: 'passphrase+rsa', passphrase: PASSPHRASE, publicKey: parsePublicKey(publicKeyPem), iterations: ITERATIONS }],
      { name: name.length > 0 ? name.slice(0, 1024) : 'unnamed', size: plaintext.length, mtimeMs: 1_700_000_000_000 },
    );
    const payload: Buffer[] = [];
    const stream = writer.createPayloadStream();
    stream.on('data', (chunk: Buffer) => payload.push(chunk));
    await new Promise<void>((resolve, reject) => {
      stream.once('end', resolve);
      stream.once('error', reject);
      stream.end(plaintext);
    });
    const envelope = Buffer.concat([writer.header, ...payload]);
    const envelopeSha256 = sha256(envelope);
    const transferId = crypto.randomBytes(16).toString('hex');
    const offer: Offer = { type: 'offer', transferId, name, path: relativePath, size: envelope.length, headerSize: writer.header.length, plaintextSize: plaintext.length };
    await this.send(offer);
    const accepted = await this.next();
    if (accepted.type !== 'accept') return { answer: accepted, envelopeSha256 };
    for (let offset = accepted.offset; offset < envelope.length; offset += 64 * 1024) {
      await this.channel.sendData(envelope.subarray(offset, Math.min(envelope.length, offset + 64 * 1024)));
    }
    await this.send({ type: 'end', transferId, sha256: envelopeSha256 });
    for (;;) {
      const answer = await this.next();
      if (answer.type !== 'committed') return { answer, envelopeSha256 };
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
