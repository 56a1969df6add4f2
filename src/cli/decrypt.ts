/**
 * `sft decrypt`: opens an envelope with a passphrase, private keys, or both.
 */
import * as path from 'node:path';
import { STDIO, decryptFile, inspectEnvelope, loadPrivateKey } from '../crypto';
import { SftError, isSftError } from '../errors';
import { CliIo, Command, checkOutputFree, EXIT_OK, expectPositionals, parseOptions, writeLine } from './io';
import { readSecret, requireSecret } from './secrets';

const usage = 'sft decrypt IN -o OUT [--force] [--passphrase-file F] [--identity PRIVATE.pem [--identity-passphrase-file F]]...';

export const decrypt: Command = {
  usage,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseOptions(argv, {
      output: { type: 'string', short: 'o' },
      force: { type: 'boolean', short: 'f' },
      'passphrase-file': { type: 'string' },
      identity: { type: 'string', short: 'i', multiple: true },
      'identity-passphrase-file': { type: 'string' },
    }, usage);
    expectPositionals(positionals, 1, 'one envelope file (or - for standard input)', usage);
    const input = positionals[0];
    const output = values.output;
    if (output === undefined) {
      throw new SftError('USAGE', `Missing -o OUT: where to write the plaintext (or - for standard output). Usage: ${usage}`);
    }
    if (input !== STDIO && output !== STDIO && path.resolve(input) === path.resolve(output)) {
      throw new SftError('USAGE', `Input and output are the same file ${input}. Choose another -o.`);
    }
    await checkOutputFree(output, values.force === true);

    const privateKeys = [];
    for (const file of values.identity ?? []) {
      privateKeys.push(await loadIdentity(io, file, values['identity-passphrase-file']));
    }

    // Prompt for a passphrase only when the header shows a stanza that needs one.
    const needsPassphrase = input === STDIO ? false : await headerNeedsPassphrase(input);
    const passphrase = await readSecret(io, {
      file: values['passphrase-file'],
      option: '--passphrase-file',
      env: 'SFT_PASSPHRASE',
      prompt: 'Passphrase',
      noPrompt: !needsPassphrase,
    });
    if (passphrase === undefined && privateKeys.length === 0) {
      throw new SftError('USAGE', `Nothing to decrypt with: give --passphrase-file F, SFT_PASSPHRASE, or --identity PRIVATE.pem. Usage: ${usage}`);
    }

    const metadata = await decryptFile(input, output, { passphrase, privateKeys }, { stdin: io.stdin, stdout: io.stdout, replace: values.force === true });
    if (output !== STDIO) {
      writeLine(io.stderr, `Decrypted ${input} to ${output} (originally "${metadata.name}", ${metadata.size ?? 'unknown'} bytes).`);
    }
    return EXIT_OK;
  },
};

async function headerNeedsPassphrase(input: string): Promise<boolean> {
  const summary = await inspectEnvelope(input);
  return summary.stanzas.some((stanza) => stanza.type !== 'rsa');
}

async function loadIdentity(io: CliIo, file: string, passphraseFile: string | undefined) {
  try {
    return await loadPrivateKey(file);
  } catch (error) {
    if (!isSftError(error, 'KEY_PASSPHRASE_MISSING')) throw error;
  }
  const passphrase = await requireSecret(io, {
    file: passphraseFile,
    option: '--identity-passphrase-file',
    env: 'SFT_IDENTITY_PASSPHRASE',
    prompt: `Passphrase for ${file}`,
  });
  return loadPrivateKey(file, passphrase);
}
