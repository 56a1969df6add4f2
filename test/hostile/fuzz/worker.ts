/**
 * Worker-thread side of the fuzz engine: prepares one target, then runs inputs in index
 * order and publishes progress in shared memory for the watchdog in engine.ts.
 */
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { SeededRandom } from '../seeded-random';
import { PHASE_RUNNING, STATE_COMPLETED, STATE_INDEX, STATE_PHASE, WorkerData, WorkerMessage } from './engine';
import { FuzzInput, OracleViolation, findTarget } from './targets';

const INPUT_PREVIEW_BYTES = 96;

async function main(data: WorkerData): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('The fuzz worker must run in a worker thread.');
  const shared = new Int32Array(data.state);
  const prepared = await findTarget(data.target).prepare();
  Atomics.store(shared, STATE_PHASE, PHASE_RUNNING);

  const outcomes: Record<string, number> = {};
  const deadline = performance.now() + data.seconds * 1000;
  let inputs = 0;
  let slowestInputMs = 0;
  let slowestIndex = -1;

  for (let index = data.firstIndex; inputs < data.maxInputs && performance.now() < deadline; index++) {
    Atomics.store(shared, STATE_INDEX, index);
    let input: FuzzInput = { bytes: Buffer.alloc(0), cuts: [] };
    const started = performance.now();
    let outcome: string;
    try {
      input = prepared.generate(new SeededRandom(data.seed, index));
      outcome = await prepared.run(input);
    } catch (error) {
      const failed = error as Error;
      const message: WorkerMessage = {
        kind: 'failure',
        inputs,
        outcomes,
        failure: {
          kind: error instanceof OracleViolation ? 'oracle' : 'untyped-error',
          index,
          message: `${failed?.name ?? 'value'}: ${failed?.message ?? String(error)}\n${failed?.stack ?? ''}`,
          input: { length: input.bytes.length, headHex: input.bytes.subarray(0, INPUT_PREVIEW_BYTES).toString('hex') },
        },
      };
      port.postMessage(message);
      return;
    }
    const took = performance.now() - started;
    if (took > slowestInputMs) {
      slowestInputMs = took;
      slowestIndex = index;
    }
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    inputs++;
    Atomics.add(shared, STATE_COMPLETED, 1);
  }

  const message: WorkerMessage = { kind: 'report', report: { target: data.target, seed: data.seed, inputs, outcomes, slowestInputMs, slowestIndex } };
  port.postMessage(message);
}

void main(workerData as WorkerData);
