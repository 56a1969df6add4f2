/**
 * Fuzz suite: a bounded, seeded run of every fuzz target, and self-tests that show the
 * engine catches each kind of failure (untyped error, oracle violation, hang, memory).
 *
 * Longer runs: `node out/test/hostile/fuzz-cli.js --seconds 600` (see fuzz-cli.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FailureKind, formatReport, runFuzz } from './fuzz/engine';
import { FUZZ_TARGETS } from './fuzz/targets';
import { suiteSeed } from './seeded-random';

const SEED = suiteSeed(20_251_204);
/** Seconds per target in `npm test`; the engine prepares the corpus before this budget starts. */
const SECONDS_PER_TARGET = Number(process.env.SFT_FUZZ_SECONDS ?? 2);
/** Fewer inputs than this means the target barely ran, so the run proves nothing. */
const MIN_INPUTS = 200;
/** A busy 2-core machine can pause one input for a while; a real hang is endless. */
const PER_INPUT_TIMEOUT_MS = 5_000;

describe('fuzz: parsers of untrusted input', () => {
  for (const target of FUZZ_TARGETS) {
    test(`fuzz ${target.name}`, { timeout: (SECONDS_PER_TARGET + 120) * 1000 }, async (t) => {
      const report = await runFuzz({ target: target.name, seed: SEED, seconds: SECONDS_PER_TARGET, perInputTimeoutMs: PER_INPUT_TIMEOUT_MS });
      t.diagnostic(formatReport(report));
      assert.equal(report.failure, undefined, formatReport(report));
      assert.ok(report.inputs >= MIN_INPUTS, `only ${report.inputs} inputs ran. ${formatReport(report)}`);
    });
  }
});

describe('fuzz: the engine catches failures', () => {
  const cases: Array<[string, FailureKind, { perInputTimeoutMs?: number; maxRssGrowthBytes?: number }]> = [
    ['self-test-untyped', 'untyped-error', {}],
    ['self-test-oracle', 'oracle', {}],
    ['self-test-busy-loop', 'hang', { perInputTimeoutMs: 500 }],
    ['self-test-never-settles', 'hang', { perInputTimeoutMs: 500 }],
    ['self-test-heap-growth', 'memory', {}],
    ['self-test-large-buffer', 'memory', { maxRssGrowthBytes: 200 * 1024 * 1024 }],
  ];
  for (const [target, kind, options] of cases) {
    test(`engine reports ${target.replace('self-test-', '')}`, { timeout: 120_000 }, async () => {
      const report = await runFuzz({ target, seed: SEED, seconds: 30, maxInputs: 50, ...options });
      assert.equal(report.failure?.kind, kind, formatReport(report));
      if (kind !== 'memory') assert.equal(report.failure?.index, 5, formatReport(report));
    });
  }
});
