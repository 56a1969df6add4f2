/**
 * `sft keygen`: writes an RSA key pair, the private key encrypted, and prints its fingerprint.
 */
import * as path from 'node:path';
import { ALLOWED_RSA_BITS, DEFAULT_RSA_BITS, generateKeyPair, writeKeyPair } from '../crypto';
import { SftError } from '../errors';
import { CliIo, Command, EXIT_OK, expectPositionals, parseOptions, writeLine } from './io';
import { requireSecret } from './secrets';

const usage = 'sft keygen --out DIR [--bits 2048|3072|4096] [--passphrase-file F]';

export const keygen: Command = {
  usage,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseOptions(argv, {
      out: { type: 'string', short: 'o' },
      bits: { type: 'string' },
      'passphrase-file': { type: 'string' },
    }, usage);
    expectPositionals(positionals, 0, 'no arguments besides options', usage);
    if (values.out === undefined) {
      throw new SftError('USAGE', `Missing --out DIR: the folder for private.pem and public.pem. Usage: ${usage}`);
    }
    const bits = values.bits === undefined ? DEFAULT_RSA_BITS : Number(values.bits);
    if (!(ALLOWED_RSA_BITS as readonly number[]).includes(bits)) {
      throw new SftError('USAGE', `Invalid --bits ${values.bits}: use ${ALLOWED_RSA_BITS.join(', ')}.`);
    }

    const passphrase = await requireSecret(io, {
      file: values['passphrase-file'],
      option: '--passphrase-file',
      env: 'SFT_IDENTITY_PASSPHRASE',
      prompt: 'Passphrase for the new private key',
      confirm: true,
    });
    const pair = await generateKeyPair(passphrase, bits);
    const { privatePath, publicPath } = await writeKeyPair(path.resolve(values.out), pair);

    writeLine(io.stderr, `Wrote ${privatePath} (encrypted, mode 0600) and ${publicPath}.`);
    writeLine(io.stdout, pair.fingerprint);
    return EXIT_OK;
  },
};
