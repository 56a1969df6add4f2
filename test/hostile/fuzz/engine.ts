/**
 * Runs one fuzz target in a worker thread, watched from the calling thread.
 *
 * The worker writes the index of the input it is running into shared memory. The watchdog
 * here terminates the worker when that index stops moving for `perInputTimeoutMs` (a hang,
 * synchronous or not), and `resourceLimits` stop a heap that grows without bound. The
 * process's peak RSS, which also counts Buffers outside the heap, is compared with the RSS
 * before the run. Input `i` of a run depends only on the seed and `i`, so every failure
 * can be replayed alone with `fuzz-cli --seed S --index I`.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

/** Slots of the Int32Array that the worker and the watchdog share. */
export const STATE_PHASE = 0;
export const STATE_INDEX = 1;
export const STATE_COMPLETED = 2;
export const STATE_SLOTS = 3;
export const PHASE_PREPARING = 0;
export const PHASE_RUNNING = 1;

export const DEFAULT_PER_INPUT_TIMEOUT_MS = 5_000;
export const DEFAULT_PREPARE_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_RSS_GROWTH_BYTES = 256 * 1024 * 1024;
/** Heap limit of the worker, in MiB: far above what any target needs for one input. */
export const WORKER_MAX_HEAP_MB = 128;
const WATCHDOG_INTERVAL_MS = 100;

export interface FuzzRunOptions {
  target: string;
  seed: number;
  /** Wall-clock budget for inputs, after the corpus is prepared. */
  seconds: number;
  /** Stop after this many inputs even if time is left. */
  maxInputs?: number;
  /** Index of the first input; a replay runs one input from here. */
  firstIndex?: number;
  perInputTimeoutMs?: number;
  maxRssGrowthBytes?: number;
}

export type FailureKind = 'untyped-error' | 'oracle' | 'hang' | 'memory' | 'worker-crash';

export interface FuzzFailure {
  kind: FailureKind;
  index: number;
  message: string;
  /** Length and leading bytes of the failing input, when the worker could send them. */
  input?: { length: number; headHex: string };
}

export interface FuzzReport {
  target: string;
  seed: number;
  inputs: number;
  /** Count of each outcome: `ok`, an SftError code, or a target's own label. */
  outcomes: Record<string, number>;
  slowestInputMs: number;
  slowestIndex: number;
  elapsedMs: number;
  peakRssGrowthBytes: number;
  failure?: FuzzFailure;
}

/** What the worker posts when it ends on its own. */
export type WorkerMessage =
  | { kind: 'report'; report: Omit<FuzzReport, 'peakRssGrowthBytes' | 'elapsedMs'> }
  | { kind: 'failure'; failure: FuzzFailure; inputs: number; outcomes: Record<string, number> };

export interface WorkerData {
  target: string;
  seed: number;
  seconds: number;
  maxInputs: number;
  firstIndex: number;
  state: SharedArrayBuffer;
}

/** Runs `options.target` until its time or input budget is spent, or the first failure. */
export function runFuzz(options: FuzzRunOptions): Promise<FuzzReport> {
  const perInputTimeoutMs = options.perInputTimeoutMs ?? DEFAULT_PER_INPUT_TIMEOUT_MS;
  const maxRssGrowthBytes = options.maxRssGrowthBytes ?? DEFAULT_MAX_RSS_GROWTH_BYTES;
  const state = new SharedArrayBuffer(STATE_SLOTS * Int32Array.BYTES_PER_ELEMENT);
  const shared = new Int32Array(state);
  const workerData: WorkerData = {
    target: options.target,
    seed: options.seed,
    seconds: options.seconds,
    maxInputs: options.maxInputs ?? Number.MAX_SAFE_INTEGER,
    firstIndex: options.firstIndex ?? 0,
    state,
  };
  const rssBefore = process.memoryUsage.rss();
  const started = Date.now();
  const worker = new Worker(path.join(__dirname, 'worker.js'), {
    workerData,
    resourceLimits: { maxOldGenerationSizeMb: WORKER_MAX_HEAP_MB },
  });

  return new Promise<FuzzReport>((resolve) => {
    let settled = false;
    let lastCompleted = -1;
    let lastProgressAt = Date.now();
    let inputs = 0;
    let outcomes: Record<string, number> = {};

    const finish = (partial: Omit<FuzzReport, 'peakRssGrowthBytes' | 'elapsedMs' | 'target' | 'seed'>): void => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      const peakRssGrowthBytes = Math.max(0, process.resourceUsage().maxRSS * 1024 - rssBefore);
      const report: FuzzReport = { target: options.target, seed: options.seed, ...partial, elapsedMs: Date.now() - started, peakRssGrowthBytes };
      if (!report.failure && peakRssGrowthBytes > maxRssGrowthBytes) {
        report.failure = {
          kind: 'memory',
          index: -1,
          message: `peak RSS grew by ${(peakRssGrowthBytes / 1048576).toFixed(0)} MiB during the run, above the ${(maxRssGrowthBytes / 1048576).toFixed(0)} MiB bound`,
        };
      }
      void worker.terminate().then(() => resolve(report));
    };

    const failNow = (kind: FailureKind, message: string): void => {
      finish({
        inputs: Atomics.load(shared, STATE_COMPLETED),
        outcomes,
        slowestInputMs: 0,
        slowestIndex: -1,
        failure: { kind, index: Atomics.load(shared, STATE_INDEX), message },
      });
    };

    const watchdog = setInterval(() => {
      const now = Date.now();
      const completed = Atomics.load(shared, STATE_COMPLETED);
      if (completed !== lastCompleted) {
        lastCompleted = completed;
        lastProgressAt = now;
        return;
      }
      const phase = Atomics.load(shared, STATE_PHASE);
      const limit = phase === PHASE_PREPARING ? DEFAULT_PREPARE_TIMEOUT_MS : perInputTimeoutMs;
      if (now - lastProgressAt > limit) {
        failNow('hang', phase === PHASE_PREPARING
          ? `preparing the corpus took more than ${limit} ms`
          : `input ${Atomics.load(shared, STATE_INDEX)} ran for more than ${limit} ms`);
      }
    }, WATCHDOG_INTERVAL_MS);

    worker.on('message', (message: WorkerMessage) => {
      if (message.kind === 'report') {
        finish(message.report);
      } else {
        inputs = message.inputs;
        outcomes = message.outcomes;
        finish({ inputs, outcomes, slowestInputMs: 0, slowestIndex: -1, failure: message.failure });
      }
    });
    worker.on('error', (error: Error & { code?: string }) => {
      const kind: FailureKind = error.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'memory' : 'worker-crash';
      failNow(kind, `${error.code ?? error.name}: ${error.message}`);
    });
    worker.on('exit', (code) => {
      // A worker whose event loop empties while an input is still pending exits without a report.
      failNow('hang', `the worker exited with code ${code} before it reported; input ${Atomics.load(shared, STATE_INDEX)} never settled`);
    });
  });
}

/** Formats a report in one or two lines, with the seed and the command that replays a failure. */
export function formatReport(report: FuzzReport): string {
  const outcomes = Object.entries(report.outcomes).sort((a, b) => b[1] - a[1]).map(([label, count]) => `${label} ${count}`).join(', ');
  const summary =
    `${report.target}: ${report.inputs} inputs in ${(report.elapsedMs / 1000).toFixed(1)} s, seed ${report.seed}; ` +
    `slowest input ${report.slowestIndex} took ${report.slowestInputMs.toFixed(1)} ms; ` +
    `peak RSS growth ${(report.peakRssGrowthBytes / 1048576).toFixed(0)} MiB; outcomes: ${outcomes}`;
  if (!report.failure) return summary;
  const { kind, index, message, input } = report.failure;
  const shown = input ? ` Input: ${input.length} bytes, starting ${input.headHex}.` : '';
  return `${summary}\nFAILURE (${kind}) at input ${index}: ${message}.${shown}\n` +
    `Replay: node out/test/hostile/fuzz-cli.js --target ${report.target} --seed ${report.seed} --index ${index}`;
}
