/**
 * `sft export`: decrypts one stored file into a password-protected (AES-256) ZIP.
 *
 * Needs the sender's passphrase and the receiver's private key from the store; the store
 * is opened read-only, so this works beside a running receiver.
 */
import { SftError, isSftError } from '../errors';
import { exportEntryToZip, findEntry } from '../transfer/export-entry';
import { loadReceiverPrivateKey } from '../transfer/receiver-keys';
import { CliIo, Command, checkOutputFree, EXIT_OK, expectPositionals, parseOptions, writeLine } from './io';
import { formatBytes, openStoreReadOnly } from './list';
import { requireSecret } from './secrets';

const usage = 'sft export --store DIR ID -o OUT.zip [--force] [--passphrase-file F] [--zip-password-file F] [--identity-passphrase-file F]';

export const exportCommand: Command = {
  usage,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseOptions(argv, {
      store: { type: 'string' },
      output: { type: 'string', short: 'o' },
      force: { type: 'boolean', short: 'f' },
      'passphrase-file': { type: 'string' },
      'zip-password-file': { type: 'string' },
      'identity-passphrase-file': { type: 'string' },
    }, usage);
    expectPositionals(positionals, 1, 'one entry id (see "sft list")', usage);
    if (values.output === undefined) {
      throw new SftError('USAGE', `Missing -o OUT.zip: where to write the ZIP. Usage: ${usage}`);
    }
    if (values.output === '-') {
      throw new SftError('USAGE', 'Cannot write the ZIP to standard output (-o -): it goes to a temporary file that is renamed once complete. Give a file path such as -o out.zip.');
    }
    await checkOutputFree(values.output, values.force === true);
    const store = await openStoreReadOnly(values.store, usage);
    try {
      const entry = findEntry(store, positionals[0]);

      let privateKey;
      try {
        privateKey = await loadReceiverPrivateKey(store.dir);
      } catch (error) {
        if (!isSftError(error, 'KEY_PASSPHRASE_MISSING')) {
          throw error;
        }
        const identityPassphrase = await requireSecret(io, {
          file: values['identity-passphrase-file'],
          option: '--identity-passphrase-file',
          env: 'SFT_IDENTITY_PASSPHRASE',
          prompt: "Passphrase of the receiver's private key",
        });
        privateKey = await loadReceiverPrivateKey(store.dir, identityPassphrase);
      }

      const passphrase = await requireSecret(io, {
        file: values['passphrase-file'],
        option: '--passphrase-file',
        env: 'SFT_PASSPHRASE',
        prompt: `Passphrase of ${entry.relativePath || entry.displayName}`,
      });
      const zipPassword = await requireSecret(io, {
        file: values['zip-password-file'],
        option: '--zip-password-file',
        env: 'SFT_ZIP_PASSWORD',
        prompt: 'Password for the ZIP',
        confirm: true,
      });

      const result = await exportEntryToZip(store, entry.id, { outPath: values.output, passphrase, privateKey, zipPassword, replace: values.force === true });
      writeLine(
        io.stderr,
        `Exported "${result.zipEntryName}" (${formatBytes(entry.plaintextSize)}) from entry ${entry.id} to ${values.output} (AES-256 ZIP).`,
      );
      return EXIT_OK;
    } finally {
      await store.close();
    }
  },
};
