/**
 * Measures the payload seal and open streams in memory, without file I/O, on one thread:
 * the figure to hold against `openssl speed -evp aes-256-gcm`.
 *
 * Usage: node crypto-throughput.js TOTAL_BYTES
 * Prints JSON: { sealBytesPerS, openBytesPerS, sealBytesPerCpuS, openBytesPerCpuS,
 * updateBytesPerCpuS }. The per-CPU-second figures divide by the process's user and system
 * time, as `openssl speed` divides by its user time, so other load on the machine does not
 * lower them. `updateBytesPerCpuS` is a bare loop of Cipher.update() calls on 64 KiB
 * pieces with one cipher: the most any code built on node:crypto's Cipher can reach.
 */
import * as crypto from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createOpenStream, createSealStream } from '../../src/crypto/payload';

/** The size of one file read in `sft encrypt`. */
const PIECE_BYTES = 1024 * 1024;
/** The plaintext size of one payload chunk. */
const CHUNK_BYTES = 64 * 1024;
const SOURCE_BYTES = 64 * 1024 * 1024;

function* pieces(source: Buffer, total: number): Generator<Buffer> {
  for (let offset = 0; offset < total; offset += PIECE_BYTES) {
    const start = offset % source.length;
    yield source.subarray(start, start + Math.min(PIECE_BYTES, total - offset));
  }
}

function discard(onChunk?: (chunk: Buffer) => void): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      onChunk?.(chunk);
      callback();
    },
  });
}

interface Timing {
  wallS: number;
  cpuS: number;
}

async function timed(run: () => Promise<void>): Promise<Timing> {
  const started = process.hrtime.bigint();
  const cpuBefore = process.cpuUsage();
  await run();
  const cpu = process.cpuUsage(cpuBefore);
  return { wallS: Number(process.hrtime.bigint() - started) / 1e9, cpuS: (cpu.user + cpu.system) / 1e6 };
}

async function main(): Promise<void> {
  const total = Number(process.argv[2]);
  if (!Number.isSafeInteger(total) || total < SOURCE_BYTES) {
    throw new Error(`Usage: node crypto-throughput.js TOTAL_BYTES (at least ${SOURCE_BYTES})`);
  }
  const key = crypto.randomBytes(32);
  const source = crypto.randomBytes(SOURCE_BYTES);

  const seal = await timed(() => pipeline(Readable.from(pieces(source, total)), createSealStream(key), discard()));

  // Opening needs sealed input: seal the source once and feed that envelope again and again.
  const sealedParts: Buffer[] = [];
  await pipeline(Readable.from(pieces(source, SOURCE_BYTES)), createSealStream(key), discard((chunk) => sealedParts.push(chunk)));
  const sealed = Buffer.concat(sealedParts);
  const rounds = Math.max(1, Math.round(total / SOURCE_BYTES));
  const open: Timing = { wallS: 0, cpuS: 0 };
  for (let round = 0; round < rounds; round++) {
    const once = await timed(() => pipeline(Readable.from(pieces(sealed, sealed.length)), createOpenStream(key, { expectedSize: SOURCE_BYTES }), discard()));
    open.wallS += once.wallS;
    open.cpuS += once.cpuS;
  }

  const cipher = crypto.createCipheriv('aes-256-gcm', key, Buffer.alloc(12));
  const update = await timed(async () => {
    for (let offset = 0; offset < total; offset += CHUNK_BYTES) {
      const start = offset % source.length;
      cipher.update(source.subarray(start, start + CHUNK_BYTES));
    }
  });

  const opened = rounds * SOURCE_BYTES;
  process.stdout.write(`${JSON.stringify({
    sealBytesPerS: total / seal.wallS,
    openBytesPerS: opened / open.wallS,
    sealBytesPerCpuS: total / seal.cpuS,
    openBytesPerCpuS: opened / open.cpuS,
    updateBytesPerCpuS: total / update.cpuS,
  })}\n`);
}

main().catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exitCode = 1;
});
