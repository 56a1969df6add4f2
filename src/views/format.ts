/**
 * Formatting of sizes, times and speeds for the tree views, status bar and progress.
 */
import * as vscode from 'vscode';

const BYTE_UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

/** Formats a byte count with decimal units, for example `1.5 MB`. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < BYTE_UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${BYTE_UNITS[unit]}`;
}

/** Formats a speed in bytes per second, for example `12.3 MB/s`. */
export function formatSpeed(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** Formats an ISO 8601 time in the editor's display language; returns the input when it does not parse. */
export function formatTime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) {
    return iso;
  }
  try {
    return date.toLocaleString(vscode.env.language, { dateStyle: 'medium', timeStyle: 'short' });
  } catch {
    return date.toLocaleString();
  }
}

/** Formats a duration in milliseconds as seconds or minutes, for the summary of a send. */
export function formatDuration(ms: number): string {
  if (ms < 60_000) {
    return vscode.l10n.t('{0} s', (ms / 1000).toFixed(1));
  }
  return vscode.l10n.t('{0} min {1} s', Math.floor(ms / 60_000), Math.round((ms % 60_000) / 1000));
}

/** Returns the percentage of `done` in `total`, 0 to 100, as an integer. */
export function percent(done: number, total: number): number {
  if (total <= 0) {
    return 100;
  }
  return Math.min(100, Math.floor((done / total) * 100));
}
