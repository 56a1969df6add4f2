/**
 * `sft inspect`: prints an envelope's version, stanza types and recipient fingerprints.
 * It needs no secret and prints none.
 */
import { inspectEnvelope } from '../crypto';
import { CliIo, Command, EXIT_OK, expectPositionals, parseOptions, writeLine } from './io';

const usage = 'sft inspect IN';

export const inspect: Command = {
  usage,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { positionals } = parseOptions(argv, {}, usage);
    expectPositionals(positionals, 1, 'one envelope file', usage);
    const summary = await inspectEnvelope(positionals[0]);

    writeLine(io.stdout, `version: ${summary.version}`);
    writeLine(io.stdout, `header: ${summary.headerLength} bytes`);
    summary.stanzas.forEach((stanza, index) => {
      const parts = [`stanza ${index + 1}: ${stanza.type}`];
      if (stanza.fingerprint) parts.push(`recipient ${stanza.fingerprint}`);
      if (stanza.iterations) parts.push(`PBKDF2-HMAC-SHA-256 ${stanza.iterations} iterations`);
      writeLine(io.stdout, parts.join(', '));
    });
    return EXIT_OK;
  },
};
