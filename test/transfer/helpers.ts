/**
 * Shared setup for the transfer tests: temporary stores, a receiver on 127.0.0.1 with real
 * TLS, test files, and a TCP proxy that cuts a connection after a byte count.
 */
import * as crypto from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Accounts } from '../../src/storage/accounts';
import { LoginLimiter } from '../../src/storage/login-limiter';
import { Store } from '../../src/storage/store';
import { KnownReceivers } from '../../src/transfer/known-receivers';
import { Receiver, ReceiverLimits, ReceiverOptions } from '../../src/transfer/receiver';
import { ReceiverKeys, createReceiverKeys } from '../../src/transfer/receiver-keys';
import { SendOptions } from '../../src/transfer/sender';

/** Lowest PBKDF2 count a reader accepts; keeps the tests fast. */
export const TEST_ITERATIONS = 100_000;
export const TEST_SCRYPT = { N: 2 ** 10 };
export const USER = 'alice';
export const PASSWORD = 'correct horse battery staple';
export const PASSPHRASE = 'envelope passphrase for tests';

let keys: Promise<ReceiverKeys> | undefined;

/** One receiver key set per test process, so each test does not wait for RSA key generation. */
export function sharedKeys(): Promise<ReceiverKeys> {
  keys ??= createReceiverKeys({ rsaBits: 2048 });
  return keys;
}

export async function tempDir(prefix: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), `sft-${prefix}-`));
}

export interface LogLines {
  info: string[];
  warn: string[];
  error: string[];
}

export function collectingLogger(): { logger: ReceiverOptions['logger'] & object; lines: LogLines } {
  const lines: LogLines = { info: [], warn: [], error: [] };
  return {
    lines,
    logger: {
      info: (message: string) => lines.info.push(message),
      warn: (message: string) => lines.warn.push(message),
      error: (message: string) => lines.error.push(message),
    },
  };
}

export interface TestReceiver {
  receiver: Receiver;
  store: Store;
  accounts: Accounts;
  storeDir: string;
  port: number;
  lines: LogLines;
  stop(): Promise<void>;
}

/** Starts a receiver on 127.0.0.1 with an account for USER, in `storeDir` or a new folder. */
export async function startReceiver(
  options: {
    storeDir?: string;
    host?: string;
    port?: number;
    limits?: Partial<ReceiverLimits>;
    loginLimiter?: LoginLimiter;
    askBeforeAccept?: ReceiverOptions['askBeforeAccept'];
    addAccount?: boolean;
    checkpointIntervalBytes?: number;
    maxFileSize?: number;
  } = {},
): Promise<TestReceiver> {
  const storeDir = options.storeDir ?? (await tempDir('store'));
  const { logger, lines } = collectingLogger();
  const store = await Store.open(storeDir, { checkpointIntervalBytes: options.checkpointIntervalBytes, maxFileSize: options.maxFileSize, minFreeBytes: 0 });
  const accounts = await Accounts.open(storeDir, { scrypt: TEST_SCRYPT });
  if (options.addAccount !== false && (await accounts.list()).length === 0) {
    await accounts.add(USER, PASSWORD);
  }
  const receiverKeys = await sharedKeys();
  const receiver = new Receiver({
    store,
    accounts,
    tls: receiverKeys.tls,
    publicKey: receiverKeys.envelopePublicKeyPem,
    logger,
    limits: { checkpointIntervalBytes: options.checkpointIntervalBytes ?? 256 * 1024, ...options.limits },
    loginLimiter: options.loginLimiter ?? new LoginLimiter({ delaysMs: [0] }),
    askBeforeAccept: options.askBeforeAccept,
  });
  const address = await receiver.start({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
  return {
    receiver,
    store,
    accounts,
    storeDir,
    port: address.port,
    lines,
    async stop() {
      await receiver.stop();
      await store.close();
    },
  };
}

/** Options for sendFiles that trust the shared test receiver. */
export async function sendOptions(port: number, paths: string[], overrides: Partial<SendOptions> = {}): Promise<SendOptions> {
  const keysDir = await tempDir('known');
  const receiverKeys = await sharedKeys();
  return {
    to: `127.0.0.1:${port}`,
    username: USER,
    password: PASSWORD,
    passphrase: PASSPHRASE,
    paths,
    trust: receiverKeys.tls.fingerprint,
    knownReceivers: await KnownReceivers.load(path.join(keysDir, 'known_receivers')),
    iterations: TEST_ITERATIONS,
    retry: { attempts: 3, baseDelayMs: 20 },
    ...overrides,
  };
}

/** Writes `size` seeded pseudo-random bytes to `file` and returns their SHA-256. */
export async function writeRandomFile(file: string, size: number, seed = 1): Promise<string> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const bytes = Buffer.alloc(size);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state & 0xff;
  }
  await fs.writeFile(file, bytes);
  return sha256(bytes);
}

export function sha256(bytes: Buffer): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

export async function sha256File(file: string): Promise<string> {
  return sha256(await fs.readFile(file));
}

/**
 * A TCP proxy on 127.0.0.1 in front of `targetPort`. It counts the bytes it forwards from
 * sender to receiver; with `cutAfterBytes`, the first connection is cut once that many
 * sender bytes went through.
 */
export class CuttingProxy {
  forwardedToReceiver = 0;
  connections = 0;
  cuts = 0;
  private server: net.Server;
  private cutAfterBytes: number | undefined;
  private readonly sockets = new Set<net.Socket>();

  private constructor(server: net.Server) {
    this.server = server;
  }

  static async start(targetPort: number, cutAfterBytes?: number): Promise<CuttingProxy> {
    const server = net.createServer();
    const proxy = new CuttingProxy(server);
    proxy.cutAfterBytes = cutAfterBytes;
    server.on('connection', (client) => proxy.onConnection(client, targetPort));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  private onConnection(client: net.Socket, targetPort: number): void {
    this.connections++;
    const upstream = net.connect(targetPort, '127.0.0.1');
    this.sockets.add(client);
    this.sockets.add(upstream);
    let sentOnThisConnection = 0;
    let cut = false;
    client.on('data', (chunk: Buffer) => {
      if (cut) {
        return;
      }
      if (this.cutAfterBytes !== undefined) {
        const room = this.cutAfterBytes - sentOnThisConnection;
        if (chunk.length >= room) {
          // The receiver gets exactly the first cutAfterBytes bytes and then a clean end of
          // stream; the sender sees its connection drop at once.
          const head = chunk.subarray(0, Math.max(0, room));
          upstream.write(head);
          this.forwardedToReceiver += head.length;
          this.cutAfterBytes = undefined;
          this.cuts++;
          cut = true;
          upstream.end();
          client.destroy();
          return;
        }
      }
      sentOnThisConnection += chunk.length;
      this.forwardedToReceiver += chunk.length;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!cut) {
        client.write(chunk);
      }
    });
    client.on('close', () => {
      if (!cut) {
        upstream.destroy();
      }
    });
    upstream.on('close', () => client.destroy());
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) {
      socket.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
