// Preloaded with `node -r`: samples process.memoryUsage() every 10 ms and writes the maxima,
// in bytes, as JSON to the file named by SFT_BENCH_MEMORY_FILE when the process exits.
'use strict';
const fs = require('node:fs');

const SAMPLE_INTERVAL_MS = 10;
const maxima = {};

function sample() {
  const usage = process.memoryUsage();
  for (const [key, value] of Object.entries(usage)) {
    maxima[key] = Math.max(maxima[key] ?? 0, value);
  }
}

setInterval(sample, SAMPLE_INTERVAL_MS).unref();
process.on('exit', () => {
  sample();
  fs.writeFileSync(process.env.SFT_BENCH_MEMORY_FILE, JSON.stringify(maxima));
});
