// Markdown helpers for docs/BENCHMARKS.md: tables and number formats.
'use strict';
const { summarize } = require('./stats');

const MIB = 1024 * 1024;

/**
 * Formats a Markdown table from a header row and body rows of strings. The first column is
 * left-aligned and the others right-aligned, unless `align` gives 'l' or 'r' per column.
 */
function table(headers, rows, align = undefined) {
  const alignment = headers.map((header, i) => (align?.[i] ?? (i === 0 ? 'l' : 'r')) === 'l' ? '---' : '---:');
  const lines = [`| ${headers.join(' | ')} |`, `|${alignment.join('|')}|`];
  for (const row of rows) {
    lines.push(`| ${row.join(' | ')} |`);
  }
  return lines.join('\n');
}

function seconds(value) {
  if (value < 0.1) return `${(value * 1000).toFixed(1)} ms`;
  if (value >= 100) return `${value.toFixed(0)} s`;
  return `${value.toFixed(value < 10 ? 3 : 2)} s`;
}

/** Formats a number of runs, e.g. "1 run", "5 runs". */
function formatRuns(value) {
  return `${value} run${value === 1 ? '' : 's'}`;
}

/** Formats a count with thousands separators, e.g. "10,000". */
function formatCount(value) {
  return value.toLocaleString('en-US');
}

/** Median wall time with the range of all runs, e.g. "1.234 s (1.200–1.300)". */
function wallCell(samples) {
  const wall = summarize(samples, 'wallS');
  if (wall.count === 1) return seconds(wall.median);
  return `${seconds(wall.median)} (${seconds(wall.min)}–${seconds(wall.max)})`;
}

/** Median CPU time (user + system) of the process. */
function cpuCell(samples) {
  const cpu = samples.map((sample) => ({ cpuS: sample.userS + sample.sysS }));
  return seconds(summarize(cpu, 'cpuS').median);
}

function rssCell(samples) {
  const rss = summarize(samples, 'maxRssKiB');
  const mib = (kib) => (kib / 1024).toFixed(1);
  if (rss.count === 1) return `${mib(rss.median)} MiB`;
  return `${mib(rss.median)} MiB (${mib(rss.min)}–${mib(rss.max)})`;
}

/** Throughput of the median run in MB/s (10^6 bytes per second), as the peers print it. */
function throughputCell(bytes, samples) {
  return `${(bytes / summarize(samples, 'wallS').median / 1e6).toFixed(0)} MB/s`;
}

/** Ratio of two medians, ours over the peer's, e.g. "0.85×". */
function ratio(ours, theirs) {
  return `${(ours / theirs).toFixed(2)}×`;
}

function size(bytes) {
  if (bytes >= 1024 * MIB) return `${bytes / (1024 * MIB)} GiB`;
  if (bytes >= MIB) return `${bytes / MIB} MiB`;
  if (bytes >= 1024) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

function yesNo(met) {
  return met ? 'met' : '**missed**';
}

module.exports = { MIB, cpuCell, formatCount, formatRuns, ratio, rssCell, seconds, size, table, throughputCell, wallCell, yesNo };
