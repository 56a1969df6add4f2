/**
 * Worker threads that seal and open batches of full payload chunks, so a large file can use
 * more than one core. Each chunk has its own nonce, so batches may run on any thread in any
 * order. The streams in payload.ts put the results back in order.
 *
 * The pool is off unless `SFT_CRYPTO_THREADS` asks for 2 or more threads. On the 2-core
 * machine of docs/BENCHMARKS.md it made whole commands no faster and doubled their peak memory,
 * because file I/O and TLS need the second core. Its workers start on first use and never keep
 * the process alive.
 */
import { Worker } from 'node:worker_threads';
import { SftError } from '../errors';

const MAX_WORKERS = 4;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** Result of opening a batch: its plaintext, or the first chunk that failed and how. */
export type OpenedBatch = { plaintext: Buffer } | { failedChunk: number; failure: 'tampered' | 'trailing-data' };

/**
 * The worker's code, run with `eval` so that no second bundle has to be found on disk. It gets
 * a key, one nonce per chunk and the chunks in a transferred buffer, and transfers its output
 * back. For a chunk that fails to open it also tries the nonce with the last-chunk flag (the
 * nonce's final byte set to 01), to tell appended data apart from tampering.
 */
const WORKER_SOURCE = String.raw`
const { parentPort } = require('node:worker_threads');
const crypto = require('node:crypto');
const NONCE = ${NONCE_BYTES};
const TAG = ${TAG_BYTES};

function openOne(key, nonce, sealed) {
  const decipher = crypto.createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG));
  const plaintext = decipher.update(sealed.subarray(0, sealed.length - TAG));
  try {
    decipher.final();
  } catch {
    return undefined;
  }
  return plaintext;
}

parentPort.on('message', (job) => {
  const input = Buffer.from(job.data);
  const nonces = Buffer.from(job.nonces);
  const key = Buffer.from(job.key);
  const chunk = job.chunkBytes;
  const sealedChunk = chunk + TAG;
  if (job.op === 'seal') {
    const count = input.length / chunk;
    const out = Buffer.allocUnsafeSlow(count * sealedChunk);
    for (let i = 0; i < count; i++) {
      const cipher = crypto.createCipheriv('aes-256-gcm', key, nonces.subarray(i * NONCE, (i + 1) * NONCE));
      cipher.update(input.subarray(i * chunk, (i + 1) * chunk)).copy(out, i * sealedChunk);
      cipher.final();
      cipher.getAuthTag().copy(out, i * sealedChunk + chunk);
    }
    parentPort.postMessage({ id: job.id, data: out.buffer }, [out.buffer]);
    return;
  }
  const count = input.length / sealedChunk;
  const out = Buffer.allocUnsafeSlow(count * chunk);
  for (let i = 0; i < count; i++) {
    const sealed = input.subarray(i * sealedChunk, (i + 1) * sealedChunk);
    const nonce = nonces.subarray(i * NONCE, (i + 1) * NONCE);
    const plaintext = openOne(key, nonce, sealed);
    if (plaintext === undefined) {
      const lastNonce = Buffer.from(nonce);
      lastNonce[NONCE - 1] = 1;
      const failure = openOne(key, lastNonce, sealed) === undefined ? 'tampered' : 'trailing-data';
      parentPort.postMessage({ id: job.id, failedChunk: i, failure });
      return;
    }
    plaintext.copy(out, i * chunk);
  }
  parentPort.postMessage({ id: job.id, data: out.buffer }, [out.buffer]);
});
`;

/** A worker's reply: the output buffer, or for `open` the first chunk that failed. */
interface Reply {
  id: number;
  data?: ArrayBuffer;
  failedChunk?: number;
  failure?: 'tampered' | 'trailing-data';
}

interface PendingJob {
  resolve: (reply: Reply) => void;
  reject: (error: Error) => void;
}

class ChunkPool {
  private readonly workers: Worker[] = [];
  private readonly jobs = new Map<number, PendingJob>();
  private nextId = 0;
  private nextWorker = 0;
  private failure: Error | undefined;

  constructor(private readonly size: number) {}

  /** Seals `plaintext` (whole chunks of `chunkBytes`) with one nonce per chunk; returns the sealed chunks. */
  async seal(key: Buffer, nonces: Buffer, plaintext: Buffer, chunkBytes: number): Promise<Buffer> {
    const reply = await this.run({ op: 'seal', key, nonces, chunkBytes }, plaintext);
    return Buffer.from(reply.data as ArrayBuffer);
  }

  /** Opens `sealed` (whole sealed chunks) with one nonce per chunk, none of them the last chunk's. */
  async open(key: Buffer, nonces: Buffer, sealed: Buffer, chunkBytes: number): Promise<OpenedBatch> {
    const reply = await this.run({ op: 'open', key, nonces, chunkBytes }, sealed);
    if (reply.failedChunk !== undefined) {
      return { failedChunk: reply.failedChunk, failure: reply.failure ?? 'tampered' };
    }
    return { plaintext: Buffer.from(reply.data as ArrayBuffer) };
  }

  private run(job: { op: 'seal' | 'open'; key: Buffer; nonces: Buffer; chunkBytes: number }, data: Buffer): Promise<Reply> {
    if (this.failure) {
      return Promise.reject(this.failure);
    }
    // Only a buffer that owns its whole memory can be transferred instead of copied.
    const owned = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : Buffer.from(data);
    const id = this.nextId++;
    const worker = this.worker();
    return new Promise<Reply>((resolve, reject) => {
      this.jobs.set(id, { resolve, reject });
      if (this.jobs.size === 1) {
        for (const running of this.workers) running.ref();
      }
      worker.postMessage({ ...job, id, data: owned.buffer }, [owned.buffer as ArrayBuffer]);
    });
  }

  private worker(): Worker {
    if (this.workers.length < this.size) {
      const worker = new Worker(WORKER_SOURCE, { eval: true });
      worker.on('message', (reply: Reply) => this.settle(reply));
      worker.on('error', (error) => this.fail(error));
      worker.on('exit', (code) => this.fail(new Error(`A crypto worker thread exited with code ${code}.`)));
      this.workers.push(worker);
      return worker;
    }
    const worker = this.workers[this.nextWorker];
    this.nextWorker = (this.nextWorker + 1) % this.workers.length;
    return worker;
  }

  private settle(reply: Reply): void {
    const job = this.jobs.get(reply.id);
    this.jobs.delete(reply.id);
    if (this.jobs.size === 0) {
      // Idle workers must not keep the process alive.
      for (const running of this.workers) running.unref();
    }
    job?.resolve(reply);
  }

  private fail(error: Error): void {
    this.failure ??= new SftError('IO_FAILED', `Internal error in a crypto worker thread: ${error.message}`, { cause: error });
    for (const job of this.jobs.values()) job.reject(this.failure);
    this.jobs.clear();
    for (const running of this.workers) running.unref();
  }
}

let pool: ChunkPool | undefined;
let poolChecked = false;

/** Returns the shared pool, or undefined when the calling thread does the crypto itself. */
export function chunkPool(): ChunkPool | undefined {
  if (!poolChecked) {
    poolChecked = true;
    const size = Math.min(MAX_WORKERS, threadCount());
    pool = size > 1 ? new ChunkPool(size) : undefined;
  }
  return pool;
}

/** Returns the worker count set in `SFT_CRYPTO_THREADS` (1 to MAX_WORKERS), or 1 when it is unset or invalid. */
function threadCount(): number {
  const configured = Number(process.env.SFT_CRYPTO_THREADS ?? '1');
  return Number.isInteger(configured) && configured >= 1 ? Math.min(configured, MAX_WORKERS) : 1;
}
