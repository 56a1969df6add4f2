// Medians, spreads and the round-robin loop that collects samples.
'use strict';

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Summarizes one field of a list of samples: median, minimum and maximum. */
function summarize(samples, field) {
  const values = samples.map((sample) => sample[field]);
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), count: values.length };
}

/**
 * Runs every contestant once per round, in turn, for `rounds` rounds, and returns a Map
 * from contestant name to its list of samples. Alternating the contestants spreads a
 * change in machine load over all of them instead of over whichever ran last.
 */
async function runRounds(contestants, rounds, log) {
  const samples = new Map(contestants.map((contestant) => [contestant.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const contestant of contestants) {
      const sample = await contestant.run(round);
      samples.get(contestant.name).push(sample);
      log(`  ${contestant.name}, run ${round + 1}/${rounds}: ${sample.wallS.toFixed(3)} s, ${Math.round(sample.maxRssKiB / 1024)} MiB`);
    }
  }
  return samples;
}

module.exports = { median, runRounds, summarize };
