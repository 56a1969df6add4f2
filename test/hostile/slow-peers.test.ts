/**
 * Slow and idle peers: 200 connections that open and send nothing, or send one byte a
 * second, at TCP level, inside TLS before login, and after login. The receiver must close
 * each one by its limits or timeouts, and a real sender must still complete meanwhile.
 *
 * The timeouts are set to 3 s here instead of 10 s and 60 s, so the suite runs in seconds.
 * The code path is the same.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { CLOSE_GRACE_MS } from '../../src/transfer/channel';
import { sendFiles } from '../../src/transfer/sender';
import { encodeMessage } from '../../src/transfer/messages';
import { HostileReceiver, RawClient, seededBytes, sendOptions, startReceiver, tempDir } from './receiver-harness';

const PEERS = 200;
/** Of the 200, peers that log in and then fall silent, closed by the idle timeout. */
const LOGGED_IN_PEERS = 20;
const HANDSHAKE_TIMEOUT_MS = 3_000;
const IDLE_TIMEOUT_MS = 3_000;
/** Time a peer may stay open beyond its timeout on a busy machine. */
const CLOSE_SLACK_MS = 3_000;
const SENDER_ADDRESS = '127.0.0.2';

type PeerKind = 'tcp-silent' | 'tcp-byte-a-second' | 'tls-silent' | 'tls-byte-a-second' | 'logged-in-silent';

interface Peer {
  kind: PeerKind;
  openedAt: number;
  closedAt?: number;
  closed: Promise<void>;
  stop(): void;
}

let work: string;
let target: HostileReceiver;

before(async () => {
  work = await tempDir('slow');
  target = await startReceiver({
    storeDir: path.join(work, 'store'),
    limits: { handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS, idleTimeoutMs: IDLE_TIMEOUT_MS },
  });
});

after(async () => {
  await target.stop();
  await fs.rm(work, { recursive: true, force: true });
});

function track(kind: PeerKind, socket: net.Socket, onStop: () => void = () => undefined): Peer {
  const peer: Peer = {
    kind,
    openedAt: Date.now(),
    closed: new Promise<void>((resolve) => socket.once('close', () => {
      peer.closedAt = Date.now();
      onStop();
      resolve();
    })),
    stop: () => socket.destroy(),
  };
  socket.on('error', () => undefined);
  return peer;
}

/** Writes `bytes` one a second until the socket closes. */
function trickle(socket: net.Socket, bytes: Buffer): () => void {
  let index = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || socket.writableEnded) return;
    socket.write(bytes.subarray(index % bytes.length, (index % bytes.length) + 1));
    index++;
  }, 1000);
  return () => clearInterval(timer);
}

/** Opens one slow peer of `kind` from `localAddress`. */
async function openPeer(kind: PeerKind, localAddress: string): Promise<Peer> {
  if (kind === 'tcp-silent' || kind === 'tcp-byte-a-second') {
    const socket = net.connect({ host: '127.0.0.1', port: target.port, localAddress });
    if (kind === 'tcp-silent') return track(kind, socket);
    // A TLS record header that announces 16 KiB of handshake, then filler: TLS waits for the rest.
    const stop = trickle(socket, Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00]), Buffer.alloc(64, 0x01)]));
    return track(kind, socket, stop);
  }

  const tcp = net.connect({ host: '127.0.0.1', port: target.port, localAddress });
  const socket = tls.connect({ socket: tcp, rejectUnauthorized: false, minVersion: 'TLSv1.3' });
  const peer = track(kind, socket);
  tcp.on('error', () => undefined);
  const connected = await new Promise<boolean>((resolve) => {
    socket.once('secureConnect', () => resolve(true));
    socket.once('close', () => resolve(false));
  });
  if (!connected) return peer;

  if (kind === 'tls-byte-a-second') {
    const stop = trickle(socket, encodeMessage({ type: 'hello', versions: [1], software: 'slow' }));
    void peer.closed.then(stop);
  } else if (kind === 'logged-in-silent') {
    // Logs in properly, then sends nothing: the idle timeout applies.
    socket.destroy();
    const client = await RawClient.connect(target.port, { localAddress });
    const silent = track(kind, client.socket);
    const answer = await client.login();
    assert.equal(answer.type, 'login-ok', JSON.stringify(answer));
    return silent;
  }
  return peer;
}

/** Returns a peer whose connection the receiver closed before it could be tracked. */
function refusedPeer(kind: PeerKind): Peer {
  const now = Date.now();
  return { kind, openedAt: now, closedAt: now, closed: Promise.resolve(), stop: () => undefined };
}

async function writeSource(name: string, size: number, seed: number): Promise<{ file: string; size: number }> {
  const file = path.join(work, name);
  await fs.writeFile(file, seededBytes(size, seed));
  return { file, size };
}

/** Runs 200 peers from `addresses` and a real sender at the same time; checks both. */
async function runFlood(t: { diagnostic(message: string): void }, addresses: string[], label: string): Promise<void> {
  const kinds: PeerKind[] = ['tcp-silent', 'tcp-byte-a-second', 'tls-silent', 'tls-byte-a-second', 'logged-in-silent'];
  const source = await writeSource(`${label}.bin`, 3 * 1024 * 1024 + 17, 7);
  const before = target.store.list().length;

  // Logged-in peers first, each from its own address, so no connection limit turns them
  // away. They log in one after another: the login limiter counts a login as a failure until
  // it succeeds, so parallel logins of one user would delay each other.
  const opening: Promise<Peer>[] = [];
  for (let i = 0; i < LOGGED_IN_PEERS; i++) {
    const peer = openPeer('logged-in-silent', `127.0.4.${i + 1}`);
    opening.push(peer);
    await peer;
  }
  for (let i = LOGGED_IN_PEERS; i < PEERS; i++) {
    const kind = kinds[i % (kinds.length - 1)];
    opening.push(openPeer(kind, addresses[i % addresses.length]).catch(() => refusedPeer(kind)));
  }

  const sendStarted = Date.now();
  const sending = sendFiles(await sendOptions(target.port, [source.file], { localAddress: SENDER_ADDRESS, retry: { attempts: 10, baseDelayMs: 200 } }));
  const peers = await Promise.all(opening);
  const result = await sending;
  const sendMs = Date.now() - sendStarted;

  // Every peer is closed by a limit or a timeout, never left open.
  // A peer that stops reading gets CLOSE_GRACE_MS to close its side after the receiver's error.
  const deadline = Math.max(HANDSHAKE_TIMEOUT_MS, IDLE_TIMEOUT_MS) + CLOSE_GRACE_MS + CLOSE_SLACK_MS;
  await Promise.race([
    Promise.all(peers.map((peer) => peer.closed)),
    new Promise((resolve) => setTimeout(resolve, deadline + 2_000)),
  ]);
  const open = peers.filter((peer) => peer.closedAt === undefined);
  for (const peer of open) peer.stop();
  assert.equal(open.length, 0, `${label}: ${open.length} peers were still open after ${deadline + 2_000} ms: ${[...new Set(open.map((peer) => peer.kind))].join(', ')}`);

  const lifetimes = peers.map((peer) => (peer.closedAt as number) - peer.openedAt);
  const longest = Math.max(...lifetimes);
  assert.ok(longest <= deadline, `${label}: a peer stayed open ${longest} ms, above ${deadline} ms`);
  const closedAtOnce = lifetimes.filter((ms) => ms < 500).length;
  for (const peer of peers.filter((candidate) => candidate.kind === 'logged-in-silent')) {
    const lifetime = (peer.closedAt as number) - peer.openedAt;
    assert.ok(lifetime >= IDLE_TIMEOUT_MS - 500, `${label}: a logged-in peer was closed after ${lifetime} ms, before the idle timeout`);
  }
  const longestByKind = kinds.map((kind) => `${kind} ${Math.max(...peers.filter((peer) => peer.kind === kind).map((peer) => (peer.closedAt as number) - peer.openedAt))} ms`);
  t.diagnostic(`${label}: ${PEERS} slow peers from ${addresses.length} addresses; ${closedAtOnce} closed within 0.5 s by a connection limit; ` +
    `longest lifetimes: ${longestByKind.join(', ')}; the real sender took ${sendMs} ms`);

  // The real sender completed and its file is stored intact.
  assert.deepEqual(result.files.map((file) => file.status), ['delivered'], label);
  const delivered = result.files[0] as { entryId: string; sha256: string };
  assert.equal(target.store.get(delivered.entryId).sha256, delivered.sha256);
  assert.equal(target.store.get(delivered.entryId).plaintextSize, source.size);
  assert.equal(target.store.list().length, before + 1);
  // The sender's own connection may still be closing when sendFiles resolves.
  for (let waited = 0; target.receiver.connectionCount > 0 && waited < CLOSE_SLACK_MS; waited += 50) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal(target.receiver.connectionCount, 0, `${label}: ${target.receiver.connectionCount} connections are still open`);
}

describe('slow and idle peers', () => {
  test('200 slow peers from one address', { timeout: 90_000 }, async (t) => {
    await runFlood(t, ['127.0.0.1'], 'one address');
  });

  test('200 slow peers from 25 addresses', { timeout: 90_000 }, async (t) => {
    // 25 addresses defeat the per-address limit, so the peers fill every connection slot
    // until the timeouts free them; the sender retries until it gets one.
    const addresses = Array.from({ length: 25 }, (_, i) => `127.0.3.${i + 1}`);
    await runFlood(t, addresses, '25 addresses');
  });
});
