/**
 * `sft send`: encrypts files and folders and uploads them to a receiver.
 *
 * Prints one line per delivered file on standard output (`ENTRY_ID  PATH`) and progress on
 * standard error, as a live line on a terminal. An unknown receiver's fingerprint is shown
 * for confirmation on a terminal; elsewhere it must be given with --trust or a link.
 */
import * as readline from 'node:readline';
import { MIN_READ_ITERATIONS } from '../crypto/format';
import { DEFAULT_PBKDF2_ITERATIONS } from '../crypto/stanza';
import { SftError } from '../errors';
import { parseFingerprint } from '../transfer/identity';
import { KnownReceivers, defaultKnownReceiversPath } from '../transfer/known-receivers';
import { printable } from '../transfer/messages';
import { ConfirmFingerprint, SendProgress, sendFiles } from '../transfer/sender';
import { CliIo, Command, EXIT_FAILED, EXIT_OK, parseOptions, writeLine } from './io';
import { formatBytes } from './list';
import { parseWholeNumber } from './receive';
import { requireSecret } from './secrets';

const usage =
  'sft send --to HOST:PORT|LINK --user U [--password-file F] [--passphrase-file F] [--trust SHA256:...] [--known-receivers FILE] [--retries N] [--iterations N] PATH...';

export const send: Command = {
  usage,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseOptions(argv, {
      to: { type: 'string' },
      user: { type: 'string', short: 'u' },
      'password-file': { type: 'string' },
      'passphrase-file': { type: 'string' },
      trust: { type: 'string' },
      'known-receivers': { type: 'string' },
      retries: { type: 'string' },
      iterations: { type: 'string' },
    }, usage);
    if (values.to === undefined) {
      throw new SftError('USAGE', `Missing --to: the receiver's HOST:PORT or sft:// link. Usage: ${usage}`);
    }
    if (values.user === undefined) {
      throw new SftError('USAGE', `Missing --user: the account name on the receiver. Usage: ${usage}`);
    }
    if (positionals.length === 0) {
      throw new SftError('USAGE', `No PATH given: name the files or folders to send. Usage: ${usage}`);
    }
    const trust = values.trust === undefined ? undefined : parseFingerprint(values.trust, '--trust');
    const retries = parseWholeNumber(values.retries, '--retries', 5, 100);
    const iterations = parseWholeNumber(values.iterations, '--iterations', DEFAULT_PBKDF2_ITERATIONS, 10_000_000);
    if (iterations < MIN_READ_ITERATIONS) {
      throw new SftError('USAGE', `Invalid --iterations ${iterations}: use at least ${MIN_READ_ITERATIONS}, or readers reject the files.`);
    }

    const password = await requireSecret(io, {
      file: values['password-file'],
      option: '--password-file',
      env: 'SFT_PASSWORD',
      prompt: `Password of ${values.user} on the receiver`,
    });
    const passphrase = await requireSecret(io, {
      file: values['passphrase-file'],
      option: '--passphrase-file',
      env: 'SFT_PASSPHRASE',
      prompt: 'Passphrase for the files (needed to export them)',
      confirm: true,
    });
    const knownFile = values['known-receivers'] ?? io.env.SFT_KNOWN_RECEIVERS ?? defaultKnownReceiversPath(io.env);
    const knownReceivers = await KnownReceivers.load(knownFile);

    const controller = new AbortController();
    const onSignal = (): void => controller.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const progress = new ProgressPrinter(io);
    try {
      const result = await sendFiles({
        to: values.to,
        username: values.user,
        password,
        passphrase,
        paths: positionals,
        trust,
        knownReceivers,
        confirmFingerprint: io.stdin.isTTY && io.stderr.isTTY ? terminalConfirm(io) : undefined,
        onProgress: (event) => progress.show(event),
        signal: controller.signal,
        retry: { attempts: retries },
        iterations,
        software: 'sft',
      });
      progress.clear();

      let failed = 0;
      let bytes = 0;
      for (const file of result.files) {
        if (file.status === 'delivered') {
          bytes += file.file.size;
          writeLine(io.stdout, `${file.entryId}  ${printable(file.file.relativePath)}`);
        } else {
          failed++;
          writeLine(io.stderr, `sft send: ${printable(file.file.relativePath)} rejected by the receiver: ${file.code}: ${file.message}`);
        }
      }
      const delivered = result.files.length - failed;
      writeLine(io.stderr, `Sent ${delivered} of ${result.files.length} files (${formatBytes(bytes)}) to ${values.to.replace(/#.*$/, '')}.`);
      return failed === 0 ? EXIT_OK : EXIT_FAILED;
    } finally {
      progress.clear();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
};

function terminalConfirm(io: CliIo): ConfirmFingerprint {
  return async ({ hostPort, fingerprint }) => {
    writeLine(io.stderr, `The receiver ${hostPort} is not known yet. Its fingerprint is:`);
    writeLine(io.stderr, `  ${fingerprint}`);
    writeLine(io.stderr, 'Compare it with the one the receiver shows (its link ends with it) before you trust it.');
    const lines = readline.createInterface({ input: io.stdin, output: io.stderr, terminal: false });
    try {
      const answer = await new Promise<string>((resolve) => lines.question('Trust this receiver? (yes/no) ', resolve));
      return /^y(es)?$/i.test(answer.trim());
    } finally {
      lines.close();
    }
  };
}

/** Shows progress on standard error: a live line on a terminal, otherwise one line per event that matters. */
class ProgressPrinter {
  private live = false;
  private fileStartedAt = 0;
  private fileStartOffset = 0;
  private label = '';

  constructor(private readonly io: CliIo) {}

  show(event: SendProgress): void {
    const tty = this.io.stderr.isTTY === true;
    switch (event.type) {
      case 'connected':
        this.line(`Connected to ${event.hostPort} (${event.fingerprint}).`);
        return;
      case 'skipped':
        this.line(`Skipped ${printable(event.path)}: ${event.reason}.`);
        return;
      case 'retry':
        this.line(`${event.error.message} Retry ${event.attempt} in ${(event.delayMs / 1000).toFixed(1)} s.`);
        return;
      case 'file-start':
        // Names come from the file system and may hold control characters, which a terminal would obey.
        this.label = `[${event.index + 1}/${event.count}] ${printable(event.file.relativePath)}`;
        this.fileStartedAt = Date.now();
        this.fileStartOffset = event.offset;
        if (!tty) {
          const resuming = event.offset > 0 ? `, resuming at byte ${event.offset} of its ${event.envelopeSize}-byte envelope` : '';
          this.line(`${this.label}: sending ${formatBytes(event.file.size)}${resuming}.`);
        }
        return;
      case 'file-progress':
        if (tty) {
          const percent = event.envelopeSize === 0 ? 100 : Math.floor((event.sent / event.envelopeSize) * 100);
          const seconds = Math.max(0.001, (Date.now() - this.fileStartedAt) / 1000);
          const rate = (event.sent - this.fileStartOffset) / seconds;
          this.io.stderr.write(`\r\u001b[K${this.label}  ${percent}%  ${formatBytes(event.sent)}  ${formatBytes(rate)}/s`);
          this.live = true;
        }
        return;
      case 'file-rejected':
        this.line(`${printable(event.file.relativePath)}: rejected (${event.code}).`);
        return;
      case 'file-delivered':
        this.line(`${printable(event.file.relativePath)}: delivered as entry ${event.entryId}.`);
        return;
      default:
        return;
    }
  }

  clear(): void {
    if (this.live) {
      this.io.stderr.write('\r\u001b[K');
      this.live = false;
    }
  }

  private line(text: string): void {
    this.clear();
    writeLine(this.io.stderr, text);
  }
}
