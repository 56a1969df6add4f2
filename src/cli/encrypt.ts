/**
 * `sft encrypt`: seals a file for a passphrase, RSA recipients, or both.
 */
import * as path from 'node:path';
import { Recipient, STDIO, derivePassphraseKey, encryptFile, loadPublicKey } from '../crypto';
import { DEFAULT_PBKDF2_ITERATIONS } from '../crypto/stanza';
import { SftError } from '../errors';
import { CliIo, Command, checkOutputFree, EXIT_OK, expectPositionals, parseOptions } from './io';
import { readSecret } from './secrets';

const usage = 'sft encrypt IN -o OUT [--force] [--passphrase-file F] [--recipient PUBLIC.pem]... [--require-both] [--iterations N]';

export const encrypt: Command = {
  usage,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseOptions(argv, {
      output: { type: 'string', short: 'o' },
      force: { type: 'boolean', short: 'f' },
      'passphrase-file': { type: 'string' },
      recipient: { type: 'string', short: 'r', multiple: true },
      'require-both': { type: 'boolean' },
      iterations: { type: 'string' },
    }, usage);
    expectPositionals(positionals, 1, 'one input file (or - for standard input)', usage);
    const input = positionals[0];
    const output = values.output;
    if (output === undefined) {
      throw new SftError('USAGE', `Missing -o OUT: where to write the envelope (or - for standard output). Usage: ${usage}`);
    }
    if (input !== STDIO && output !== STDIO && path.resolve(input) === path.resolve(output)) {
      throw new SftError('USAGE', `Input and output are the same file ${input}. Choose another -o.`);
    }
    await checkOutputFree(output, values.force === true);
    const iterations = values.iterations === undefined ? DEFAULT_PBKDF2_ITERATIONS : Number(values.iterations);
    if (!Number.isInteger(iterations)) {
      throw new SftError('USAGE', `Invalid --iterations "${values.iterations}": give a whole number, at least 100000 (default ${DEFAULT_PBKDF2_ITERATIONS}).`);
    }

    const publicKeys = await Promise.all((values.recipient ?? []).map((file) => loadPublicKey(file)));
    // Without recipients a passphrase is the only way to encrypt, so only then is it worth a prompt.
    const passphrase = await readSecret(io, {
      file: values['passphrase-file'],
      option: '--passphrase-file',
      env: 'SFT_PASSPHRASE',
      prompt: 'Passphrase',
      confirm: true,
      noPrompt: publicKeys.length > 0 || input === STDIO,
    });

    const recipients = await buildRecipients(passphrase, publicKeys, values['require-both'] === true, iterations);
    await encryptFile(input, output, recipients, { stdin: io.stdin, stdout: io.stdout, replace: values.force === true });
    return EXIT_OK;
  },
};

async function buildRecipients(
  passphrase: string | undefined,
  publicKeys: Awaited<ReturnType<typeof loadPublicKey>>[],
  requireBoth: boolean,
  iterations: number,
): Promise<Recipient[]> {
  if (requireBoth) {
    if (passphrase === undefined || publicKeys.length === 0) {
      throw new SftError('USAGE', '--require-both needs a passphrase (--passphrase-file or SFT_PASSPHRASE) and at least one --recipient.');
    }
    // One derivation serves the stanza of every recipient key.
    const key = await derivePassphraseKey(passphrase, iterations);
    return publicKeys.map((publicKey) => ({ kind: 'passphrase+rsa', passphrase: key, publicKey }));
  }
  const recipients: Recipient[] = publicKeys.map((publicKey) => ({ kind: 'rsa', publicKey }));
  if (passphrase !== undefined) {
    recipients.unshift({ kind: 'passphrase', passphrase, iterations });
  }
  if (recipients.length === 0) {
    throw new SftError('USAGE', `Nothing to encrypt to: give --passphrase-file F, SFT_PASSPHRASE, or --recipient PUBLIC.pem. Usage: ${usage}`);
  }
  return recipients;
}
