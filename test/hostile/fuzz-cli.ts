/**
 * Long fuzz runs and replays from the command line, after `npm run compile-tests`:
 *
 *   node out/test/hostile/fuzz-cli.js --seconds 600                 every target, 600 s each
 *   node out/test/hostile/fuzz-cli.js --target envelope --seconds 60 --seed 7
 *   node out/test/hostile/fuzz-cli.js --target frames --seed 7 --index 12345 --save input.bin
 *
 * `--index` replays one input and prints its outcome; `--save` also writes its bytes to a file.
 * The exit status is 0 when every run ended without a failure, 1 otherwise, 2 on a usage error.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_PER_INPUT_TIMEOUT_MS, formatReport, runFuzz } from './fuzz/engine';
import { FUZZ_TARGETS, findTarget } from './fuzz/targets';
import { SeededRandom } from './seeded-random';

const DEFAULT_SEED = 1;
const DEFAULT_SECONDS = 60;

const USAGE = `Usage: node out/test/hostile/fuzz-cli.js [--target NAME|all] [--seconds N] [--seed N]
                                         [--index I [--save FILE]] [--timeout-ms N]
  --target   one of ${FUZZ_TARGETS.map((target) => target.name).join(', ')}, or all (default)
  --seconds  time per target in seconds (default ${DEFAULT_SECONDS})
  --seed     32-bit seed (default ${DEFAULT_SEED}); the same seed gives the same inputs
  --index    replay only input I of the seed
  --save     with --index: write the input's bytes to FILE
  --timeout-ms  time one input may take before it counts as a hang (default ${DEFAULT_PER_INPUT_TIMEOUT_MS})`;

function numberOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 0) {
    throw new Error(`--${name} ${value} is not a non-negative integer.`);
  }
  return parsed;
}

async function replay(targetName: string, seed: number, index: number, save: string | undefined): Promise<number> {
  const prepared = await findTarget(targetName).prepare();
  const input = prepared.generate(new SeededRandom(seed, index));
  console.log(`${targetName} seed ${seed} input ${index}: ${input.bytes.length} bytes, ${input.cuts.length} cuts`);
  console.log(input.bytes.subarray(0, 512).toString('hex'));
  if (save) {
    writeFileSync(save, input.bytes);
    console.log(`Wrote the input to ${save}`);
  }
  try {
    console.log(`Outcome: ${await prepared.run(input)}`);
    return 0;
  } catch (error) {
    console.log('FAILURE:', error);
    return 1;
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      target: { type: 'string', default: 'all' },
      seconds: { type: 'string' },
      seed: { type: 'string' },
      index: { type: 'string' },
      save: { type: 'string' },
      'timeout-ms': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const seed = numberOption(values.seed, 'seed', DEFAULT_SEED) >>> 0;
  const seconds = numberOption(values.seconds, 'seconds', DEFAULT_SECONDS);
  const perInputTimeoutMs = numberOption(values['timeout-ms'], 'timeout-ms', DEFAULT_PER_INPUT_TIMEOUT_MS);
  const names = values.target === 'all' ? FUZZ_TARGETS.map((target) => target.name) : [findTarget(values.target as string).name];

  if (values.index !== undefined) {
    if (names.length !== 1) throw new Error('--index needs one --target.');
    return replay(names[0], seed, numberOption(values.index, 'index', 0), values.save);
  }

  let failed = false;
  for (const target of names) {
    const report = await runFuzz({ target, seed, seconds, perInputTimeoutMs });
    console.log(formatReport(report));
    if (report.failure) failed = true;
  }
  return failed ? 1 : 0;
}

main().then(
  (status) => process.exit(status),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    console.error(USAGE);
    process.exit(2);
  },
);
