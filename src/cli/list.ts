/**
 * `sft list`: lists the files a receiver stored, as a table or as JSON.
 *
 * The store is opened read-only, so this works beside a running receiver.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { SftError } from '../errors';
import { Store } from '../storage/store';
import { CliIo, Command, EXIT_OK, expectPositionals, parseOptions, writeLine } from './io';

const usage = 'sft list --store DIR [--json]';

export const list: Command = {
  usage,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseOptions(argv, {
      store: { type: 'string' },
      json: { type: 'boolean' },
    }, usage);
    expectPositionals(positionals, 0, 'no arguments besides options', usage);
    const store = await openStoreReadOnly(values.store, usage);
    try {
      const entries = store.list();
      if (values.json) {
        writeLine(io.stdout, JSON.stringify(entries, null, 2));
        return EXIT_OK;
      }
      if (entries.length === 0) {
        writeLine(io.stderr, `No files received yet in ${store.dir}.`);
        return EXIT_OK;
      }
      const rows = entries.map((entry) => [
        entry.id,
        formatBytes(entry.plaintextSize),
        entry.receivedAt.replace(/\.\d+Z$/, 'Z'),
        `${entry.senderUsername}@${entry.remoteAddress}`,
        entry.relativePath || entry.displayName,
      ]);
      for (const line of formatTable(['ID', 'SIZE', 'RECEIVED', 'FROM', 'NAME'], rows)) {
        writeLine(io.stdout, line);
      }
      return EXIT_OK;
    } finally {
      await store.close();
    }
  },
};

/** Opens a store read-only; a missing folder is FILE_NOT_FOUND instead of an empty list. */
export async function openStoreReadOnly(dir: string | undefined, usageText: string): Promise<Store> {
  if (dir === undefined) {
    throw new SftError('USAGE', `Missing --store DIR: the folder "sft receive" stores files in. Usage: ${usageText}`);
  }
  const resolved = path.resolve(dir);
  const isFolder = await fs.stat(resolved).then((stats) => stats.isDirectory(), () => false);
  if (!isFolder) {
    throw new SftError('FILE_NOT_FOUND', `Store ${dir} not found. Give the folder that "sft receive --store" used.`);
  }
  return Store.open(resolved, { readOnly: true });
}

/** Formats a byte count with binary units, for example "1.5 MiB". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function formatTable(header: string[], rows: string[][]): string[] {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const format = (row: string[]): string =>
    row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]))).join('  ');
  return [format(header), ...rows.map(format)];
}
