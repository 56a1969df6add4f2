/**
 * The extension's settings, read in one place.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';

export const SETTINGS_SECTION = 'secureFileTransfer';

/** Port of the receiver when the setting is missing; the same as the command line's `sft receive`. */
export const DEFAULT_RECEIVER_PORT = 7443;

/** Floor for PBKDF2 iterations, as the settings schema declares it. */
export const MIN_PBKDF2_ITERATIONS = 600_000;
export const MAX_PBKDF2_ITERATIONS = 10_000_000;

export interface Settings {
  receiverHost: string;
  /** 0 picks a free port at each start. */
  receiverPort: number;
  /** Absolute path of the store directory, with the default already applied. */
  storeDirectory: string;
  autoStart: boolean;
  askBeforeAccepting: boolean;
  pbkdf2Iterations: number;
}

/**
 * Reads the settings, applying defaults and bounds again because settings.json can contain
 * values outside the schema. `defaultStoreDirectory` is used when the setting is empty.
 */
export function readSettings(defaultStoreDirectory: string): Settings {
  const config = vscode.workspace.getConfiguration(SETTINGS_SECTION);

  const host = config.get<string>('receiver.host', '127.0.0.1').trim();
  const port = config.get<number>('receiver.port', DEFAULT_RECEIVER_PORT);
  const iterations = config.get<number>('encryption.pbkdf2Iterations', MIN_PBKDF2_ITERATIONS);

  return {
    receiverHost: host === '' ? '127.0.0.1' : host,
    receiverPort: Number.isInteger(port) && port >= 0 && port <= 65535 ? port : DEFAULT_RECEIVER_PORT,
    storeDirectory: resolveStoreDirectory(config.get<string>('receiver.storeDirectory', ''), defaultStoreDirectory),
    autoStart: config.get<boolean>('receiver.autoStart', false) === true,
    askBeforeAccepting: config.get<boolean>('receiver.askBeforeAccepting', false) === true,
    pbkdf2Iterations: Number.isInteger(iterations)
      ? Math.min(Math.max(iterations, MIN_PBKDF2_ITERATIONS), MAX_PBKDF2_ITERATIONS)
      : MIN_PBKDF2_ITERATIONS,
  };
}

/** Expands `~` and `${userHome}` and falls back to the default for an empty or relative path. */
function resolveStoreDirectory(configured: string, fallback: string): string {
  let value = configured.trim();
  if (value === '') {
    return fallback;
  }
  value = value.replace(/^~(?=$|[\\/])/, os.homedir()).replace(/\$\{userHome\}/g, os.homedir());
  return path.isAbsolute(value) ? path.normalize(value) : fallback;
}

/** Fires `listener` when any of the extension's settings changes. */
export function onDidChangeSettings(listener: () => void): vscode.Disposable {
  return vscode.workspace.onDidChangeConfiguration((event) => {
    if (event.affectsConfiguration(SETTINGS_SECTION)) {
      listener();
    }
  });
}
