/**
 * A receiver in its own process for the crash suite, built from the same parts as
 * `sft receive` (Store, Accounts, loadOrCreateReceiverKeys, Receiver), with a checkpoint
 * interval small enough that a crash lands between checkpoints of a small file.
 *
 *   node out/test/hostile/receiver-process.js '{"storeDir":"...","port":0,"checkpointIntervalBytes":65536}'
 *
 * It prints one JSON object per line on standard output: `listening` with the port, and
 * `start` and `done` for each transfer. Log lines go to standard error.
 */
import { Accounts } from '../../src/storage/accounts';
import { Store } from '../../src/storage/store';
import { Receiver } from '../../src/transfer/receiver';
import { loadOrCreateReceiverKeys } from '../../src/transfer/receiver-keys';
import { TEST_SCRYPT } from './receiver-harness';

export interface ReceiverProcessConfig {
  storeDir: string;
  port: number;
  checkpointIntervalBytes: number;
}

function emit(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

async function main(config: ReceiverProcessConfig): Promise<void> {
  const logger = {
    info: (message: string) => process.stderr.write(`INFO ${message}\n`),
    warn: (message: string) => process.stderr.write(`WARN ${message}\n`),
    error: (message: string) => process.stderr.write(`ERROR ${message}\n`),
  };
  const store = await Store.open(config.storeDir, { logger, minFreeBytes: 0, checkpointIntervalBytes: config.checkpointIntervalBytes });
  const accounts = await Accounts.open(config.storeDir, { scrypt: TEST_SCRYPT });
  const keys = await loadOrCreateReceiverKeys(config.storeDir, { rsaBits: 2048 });
  const receiver = new Receiver({
    store,
    accounts,
    tls: keys.tls,
    publicKey: keys.publicKey,
    logger,
    limits: { checkpointIntervalBytes: config.checkpointIntervalBytes },
  });
  receiver.on('transfer-start', (info) => emit({ event: 'start', transferId: info.transferId, offset: info.received, size: info.envelopeSize }));
  receiver.on('transfer-done', (info) => emit({ event: 'done', transferId: info.transferId, entryId: info.entry.id }));
  const address = await receiver.start({ host: '127.0.0.1', port: config.port });
  emit({ event: 'listening', port: address.port, fingerprint: receiver.fingerprint });

  process.once('SIGTERM', () => {
    void receiver.stop().then(() => store.close()).then(() => process.exit(0));
  });
}

main(JSON.parse(process.argv[2] ?? '{}') as ReceiverProcessConfig).catch((error: unknown) => {
  process.stderr.write(`ERROR ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
