/**
 * Entry point of the `sft` command-line program: dispatches to one module per command
 * and maps errors to one line on standard error and an exit status.
 */
import { isSftError } from '../errors';
import { CliIo, Command, EXIT_FAILED, EXIT_OK, EXIT_USAGE, processIo, writeLine } from './io';

/** Commands are loaded on use, so `sft inspect` does not pay for the transfer layer. */
const commands: Record<string, () => Command> = {
  keygen: () => require('./keygen').keygen,
  encrypt: () => require('./encrypt').encrypt,
  decrypt: () => require('./decrypt').decrypt,
  inspect: () => require('./inspect').inspect,
  account: () => require('./account').account,
  receive: () => require('./receive').receive,
  send: () => require('./send').send,
  list: () => require('./list').list,
  export: () => require('./export').exportCommand,
};

function overview(): string {
  const lines = ['Usage: sft COMMAND [OPTIONS]', '', 'Commands:'];
  for (const name of Object.keys(commands)) {
    lines.push(`  ${commands[name]().usage}`);
  }
  lines.push('', 'Secrets are read from --*-file options, SFT_PASSPHRASE or SFT_IDENTITY_PASSPHRASE, or a prompt;');
  lines.push('never from the command line. "-" means standard input or output.');
  return lines.join('\n');
}

/** Runs one command line and returns its exit status: 0 success, 1 failure, 2 usage error. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    const topic = rest[0];
    if (topic !== undefined && commands[topic]) {
      writeLine(io.stdout, `Usage: ${commands[topic]().usage}`);
    } else if (topic !== undefined) {
      writeLine(io.stderr, `sft: unknown command "${topic}". Run "sft help" for the list.`);
      return EXIT_USAGE;
    } else {
      writeLine(name === undefined ? io.stderr : io.stdout, overview());
    }
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (name === '--version') {
    writeLine(io.stdout, require('../../package.json').version);
    return EXIT_OK;
  }
  const load = commands[name];
  if (!load) {
    writeLine(io.stderr, `sft: unknown command "${name}". Run "sft help" for the list.`);
    return EXIT_USAGE;
  }

  if (rest.includes('--help') || rest.includes('-h')) {
    writeLine(io.stdout, `Usage: ${load().usage}`);
    return EXIT_OK;
  }

  try {
    return await load().run(rest, io);
  } catch (error) {
    if (isSftError(error)) {
      writeLine(io.stderr, `sft ${name}: ${error.message.replace(/\s*\n\s*/g, ' ')}`);
      return error.code === 'USAGE' ? EXIT_USAGE : EXIT_FAILED;
    }
    writeLine(io.stderr, `sft ${name}: unexpected error: ${(error as Error)?.message ?? String(error)}`);
    return EXIT_FAILED;
  }
}

/** Runs `main` on the process's arguments and sets the exit status; bin/sft.js calls it. */
export function runFromProcess(): void {
  // A reader that stops early, as in `sft list | head`, closes the pipe: end quietly, as cat does.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(process.exitCode ?? 0);
  });
  main(process.argv.slice(2)).then((status) => {
    process.exitCode = status;
  });
}
