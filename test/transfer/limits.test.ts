import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { sendFiles } from '../../src/transfer/sender';
import { ProtocolClient } from './protocol-client';
import { sendOptions, startReceiver, tempDir, writeRandomFile } from './helpers';

function waitForClose(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) {
      resolve();
    } else {
      socket.once('close', () => resolve());
    }
  });
}

test('idle and slow peers closed, sender completes', async () => {
  const target = await startReceiver({ limits: { handshakeTimeoutMs: 1000, maxUnauthenticatedPerAddress: 8, maxConnections: 32 } });
  const source = await tempDir('source');
  const sockets: net.Socket[] = [];
  const timers: NodeJS.Timeout[] = [];
  try {
    let rejected = 0;
    target.receiver.on('connection-rejected', () => rejected++);
    for (let i = 0; i < 40; i++) {
      const socket = net.connect(target.port, '127.0.0.1');
      socket.on('error', () => undefined);
      sockets.push(socket);
    }
    // Slow peers: a TLS client hello trickled one byte at a time.
    for (let i = 0; i < 5; i++) {
      const socket = net.connect(target.port, '127.0.0.1');
      socket.on('error', () => undefined);
      sockets.push(socket);
      timers.push(setInterval(() => socket.writable && socket.write(Buffer.from([0x16])), 100));
    }

    const file = path.join(source, 'a.bin');
    await writeRandomFile(file, 500_000);
    const started = Date.now();
    const result = await sendFiles(await sendOptions(target.port, [file], { localAddress: '127.0.0.2' }));
    assert.equal(result.files[0].status, 'delivered');
    assert.ok(Date.now() - started < 3000, 'the sender was not held up by the idle peers');

    await Promise.all(sockets.map(waitForClose));
    assert.ok(rejected >= 40 + 5 - 8, `${rejected} connections rejected at once`);
    for (let i = 0; i < 50 && target.receiver.connectionCount > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(target.receiver.connectionCount, 0);
    assert.ok(target.lines.info.some((line) => /no login within 1000 ms/.test(line)));
  } finally {
    timers.forEach(clearInterval);
    sockets.forEach((socket) => socket.destroy());
    await target.stop();
    await fs.rm(source, { recursive: true, force: true });
    await fs.rm(target.storeDir, { recursive: true, force: true });
  }
});

test('logged-in silent peer closed by idle timeout', async () => {
  const target = await startReceiver({ limits: { idleTimeoutMs: 300 } });
  try {
    const client = await ProtocolClient.connect(target.port);
    await client.login();
    const answer = await client.next(2000);
    assert.equal(answer.type, 'error');
    assert.equal(answer.type === 'error' ? answer.code : '', 'TIMEOUT');
    await waitForClose(client.channel.socket);
  } finally {
    await target.stop();
    await fs.rm(target.storeDir, { recursive: true, force: true });
  }
});

test('oversized and early frames rejected', async () => {
  const target = await startReceiver();
  try {
    const cases: [string, Buffer][] = [
      ['control frame above 64 KiB', Buffer.from([0x00, 0x01, 0x00, 0x01, 0x01])],
      ['data frame of 4 GiB', Buffer.from([0xff, 0xff, 0xff, 0xff, 0x02])],
      ['data frame before login', Buffer.from([0x00, 0x00, 0x00, 0x10, 0x02])],
      ['unknown frame type', Buffer.from([0x00, 0x00, 0x00, 0x02, 0x07])],
    ];
    for (const [label, header] of cases) {
      const client = await ProtocolClient.connect(target.port);
      client.channel.socket.write(header);
      const answer = await client.next(2000);
      assert.equal(answer.type, 'error', label);
      assert.match(answer.type === 'error' ? answer.code : '', /^PROTOCOL_(VIOLATION|LIMIT_EXCEEDED)$/, label);
      await waitForClose(client.channel.socket);
    }

    // Not JSON, wrong state, wrong version.
    const garbage = await ProtocolClient.connect(target.port);
    garbage.channel.socket.write(Buffer.concat([Buffer.from([0, 0, 0, 3, 1]), Buffer.from('{x}')]));
    assert.equal((await garbage.next(2000)).type, 'error');
    const early = await ProtocolClient.connect(target.port);
    await early.send({ type: 'login', username: 'alice', password: 'x' });
    const earlyAnswer = await early.next(2000);
    assert.equal(earlyAnswer.type === 'error' ? earlyAnswer.code : '', 'PROTOCOL_VIOLATION');
    const future = await ProtocolClient.connect(target.port);
    await future.send({ type: 'hello', versions: [2, 3], software: 'future' });
    const futureAnswer = await future.next(2000);
    assert.equal(futureAnswer.type === 'error' ? futureAnswer.code : '', 'PROTOCOL_UNSUPPORTED_VERSION');

    // Data beyond the offered size.
    const client = await ProtocolClient.connect(target.port);
    await client.login();
    await client.send({ type: 'offer', transferId: 'ab'.repeat(16), name: 'x', path: 'x', size: 116, headerSize: 100, plaintextSize: 0 });
    assert.equal((await client.next()).type, 'accept');
    await client.channel.sendData(Buffer.alloc(117));
    const overflow = await client.next();
    assert.equal(overflow.type === 'error' ? overflow.code : '', 'PROTOCOL_VIOLATION');
  } finally {
    await target.stop();
    await fs.rm(target.storeDir, { recursive: true, force: true });
  }
});

test('receiver rejects TLS below 1.3', async () => {
  const target = await startReceiver();
  try {
    const socket = tls.connect({ host: '127.0.0.1', port: target.port, rejectUnauthorized: false, maxVersion: 'TLSv1.2' });
    const outcome = await new Promise<string>((resolve) => {
      socket.once('secureConnect', () => resolve('connected'));
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    });
    socket.destroy();
    assert.notEqual(outcome, 'connected');
  } finally {
    await target.stop();
    await fs.rm(target.storeDir, { recursive: true, force: true });
  }
});
