/**
 * `sft receive`: runs a receiver in the foreground until SIGINT or SIGTERM.
 *
 * It prints its link (with the fingerprint senders pin) on standard output and logs
 * connections, logins and transfers on standard error.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { SftError } from '../errors';
import { Accounts } from '../storage/accounts';
import { writeFileAtomic } from '../storage/atomic-file';
import { Store } from '../storage/store';
import { DEFAULT_PARTIAL_MAX_AGE_MS, Receiver, ReceiverLogger } from '../transfer/receiver';
import { loadOrCreateReceiverKeys } from '../transfer/receiver-keys';
import { CliIo, Command, EXIT_OK, expectPositionals, parseOptions, writeLine } from './io';
import { readSecret } from './secrets';

const HOUR_MS = 60 * 60 * 1000;

const usage =
  'sft receive --store DIR [--host 127.0.0.1] [--port N] [--port-file F] [--identity-passphrase-file F] [--max-file-size BYTES] [--partial-max-age HOURS]';

/** Port used when --port is not given. */
export const DEFAULT_RECEIVER_PORT = 7443;

export const receive: Command = {
  usage,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseOptions(argv, {
      store: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'port-file': { type: 'string' },
      'identity-passphrase-file': { type: 'string' },
      'max-file-size': { type: 'string' },
      'partial-max-age': { type: 'string' },
    }, usage);
    expectPositionals(positionals, 0, 'no arguments besides options', usage);
    if (values.store === undefined) {
      throw new SftError('USAGE', `Missing --store DIR: the folder where received files are kept. Usage: ${usage}`);
    }
    const storeDir = path.resolve(values.store);
    const host = values.host ?? '127.0.0.1';
    const port = parseWholeNumber(values.port, '--port', DEFAULT_RECEIVER_PORT, 65535);
    const maxFileSize = values['max-file-size'] === undefined ? undefined : parseWholeNumber(values['max-file-size'], '--max-file-size', 0, Number.MAX_SAFE_INTEGER);
    // Uploads left unfinished longer than this are deleted; a sender can resume until then.
    const partialMaxAgeHours = parseWholeNumber(values['partial-max-age'], '--partial-max-age', DEFAULT_PARTIAL_MAX_AGE_MS / HOUR_MS, 24 * 365);
    if (partialMaxAgeHours < 1) {
      throw new SftError('USAGE', 'Invalid --partial-max-age 0: give at least 1 hour, so a sender has time to resume.');
    }

    // Only needed when the private key is created, so never prompted for.
    const identityPassphrase = await readSecret(io, {
      file: values['identity-passphrase-file'],
      option: '--identity-passphrase-file',
      env: 'SFT_IDENTITY_PASSPHRASE',
      prompt: 'Identity passphrase',
      noPrompt: true,
    });

    const logger = stderrLogger(io);
    const store = await Store.open(storeDir, { logger, maxFileSize });
    try {
      const accounts = await Accounts.open(storeDir);
      const keys = await loadOrCreateReceiverKeys(storeDir, { identityPassphrase });
      if (keys.created.length > 0) {
        logger.info(`Created the receiver identity in ${path.join(storeDir, 'identity')}: ${keys.created.join(', ')}.`);
      }
      if (!keys.privateKeyEncrypted) {
        logger.warn(
          `The receiver's private key ${path.join(storeDir, 'identity', 'envelope-key.pem')} is not encrypted (mode 0600). ` +
            'Anyone who can read it and knows a sender passphrase can open the files. To encrypt it, start a new store with --identity-passphrase-file.',
        );
      }
      if ((await accounts.list()).length === 0) {
        logger.warn(`No accounts yet, so no sender can log in. Add one with "sft account add USER --store ${values.store}".`);
      }

      const receiver = new Receiver({
        store, accounts, tls: keys.tls, publicKey: keys.publicKey, logger, software: 'sft',
        partialMaxAgeMs: partialMaxAgeHours * HOUR_MS,
      });
      const address = await receiver.start({ host, port });
      writeLine(io.stdout, receiver.link());
      if (values['port-file'] !== undefined) {
        await writePortFile(values['port-file'], address.port);
      }

      await waitForSignal(logger);
      await receiver.stop({ graceful: true });
    } finally {
      await store.close();
    }
    return EXIT_OK;
  },
};

/** Writes the port atomically, so a script polling the file never reads half a number. */
async function writePortFile(file: string, port: number): Promise<void> {
  try {
    await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  } catch (error) {
    throw new SftError('IO_FAILED', `Cannot create the folder of --port-file ${file}: ${(error as Error).message}`);
  }
  await writeFileAtomic(path.resolve(file), `${port}\n`);
}

function waitForSignal(logger: ReceiverLogger): Promise<void> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      logger.info(`Received ${signal}; stopping after the files in progress (at most 10 s).`);
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/** Log lines on standard error: time, level, message. */
export function stderrLogger(io: CliIo): ReceiverLogger {
  const line = (level: string, message: string): void => writeLine(io.stderr, `${new Date().toISOString()} ${level} ${message}`);
  return {
    info: (message) => line('INFO', message),
    warn: (message) => line('WARN', message),
    error: (message) => line('ERROR', message),
  };
}

/** Parses a decimal whole number option in 0..max; returns `fallback` when absent. */
export function parseWholeNumber(value: string | undefined, option: string, fallback: number, max: number): number {
  if (value === undefined) {
    return fallback;
  }
  if (!/^[0-9]+$/.test(value) || Number(value) > max) {
    throw new SftError('USAGE', `Invalid ${option} "${value}": give a whole number from 0 to ${max}.`);
  }
  return Number(value);
}
