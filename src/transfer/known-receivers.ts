/**
 * The sender's known-receivers file: receiver fingerprints trusted on first use.
 *
 * One receiver per line, `HOST:PORT SHA256:...`, as SSH's known_hosts keeps host keys.
 * Lines starting with `#` and blank lines are kept as they are when the file is rewritten.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SftError } from '../errors';
import { writeFileAtomic } from '../storage/atomic-file';
import { isFingerprint } from './identity';
import { formatHostPort, parseHostPort } from './link';

export const MAX_KNOWN_RECEIVERS_BYTES = 1024 * 1024;

/** Returns the default file: `$XDG_CONFIG_HOME/sft/known_receivers`, else `~/.config/sft/known_receivers`. */
export function defaultKnownReceiversPath(env: NodeJS.ProcessEnv = process.env): string {
  const configHome = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(os.homedir(), '.config');
  return path.join(configHome, 'sft', 'known_receivers');
}

type Line = { kind: 'text'; text: string } | { kind: 'receiver'; hostPort: string; fingerprint: string };

/** Fingerprints of receivers the user has trusted, keyed by normalized `HOST:PORT`. */
export class KnownReceivers {
  private constructor(
    readonly file: string,
    private lines: Line[],
  ) {}

  /**
   * Reads `file`; a missing file is an empty list. Throws SftError('IO_FAILED') when the
   * file is larger than MAX_KNOWN_RECEIVERS_BYTES or a line is malformed, naming the line.
   */
  static async load(file: string): Promise<KnownReceivers> {
    let text: string;
    try {
      const handle = await fs.open(file, 'r');
      try {
        const { size } = await handle.stat();
        if (size > MAX_KNOWN_RECEIVERS_BYTES) {
          throw new SftError('IO_FAILED', `Known-receivers file ${file} has ${size} bytes, above the ${MAX_KNOWN_RECEIVERS_BYTES}-byte limit. Check that it is the right file.`);
        }
        text = await handle.readFile('utf8');
      } finally {
        await handle.close();
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        return new KnownReceivers(file, []);
      }
      if (error instanceof SftError) {
        throw error;
      }
      throw new SftError('IO_FAILED', `Cannot read known-receivers file ${file}: ${(error as Error).message}`, { cause: error });
    }
    return new KnownReceivers(file, parseLines(text, file));
  }

  /** Returns the trusted fingerprint for `hostPort`, or undefined for an unknown receiver. */
  get(hostPort: string): string | undefined {
    const key = normalizeKey(hostPort);
    for (const line of this.lines) {
      if (line.kind === 'receiver' && line.hostPort === key) {
        return line.fingerprint;
      }
    }
    return undefined;
  }

  /** Lists every trusted receiver. */
  entries(): { hostPort: string; fingerprint: string }[] {
    const result: { hostPort: string; fingerprint: string }[] = [];
    for (const line of this.lines) {
      if (line.kind === 'receiver') {
        result.push({ hostPort: line.hostPort, fingerprint: line.fingerprint });
      }
    }
    return result;
  }

  /** Records `fingerprint` for `hostPort`, replacing an older one, and rewrites the file atomically. */
  async set(hostPort: string, fingerprint: string): Promise<void> {
    if (!isFingerprint(fingerprint)) {
      throw new SftError('USAGE', `Invalid fingerprint "${fingerprint.slice(0, 80)}"; expected SHA256: and 43 base64 characters.`);
    }
    const key = normalizeKey(hostPort);
    const kept = this.lines.filter((line) => !(line.kind === 'receiver' && line.hostPort === key));
    this.lines = [...kept, { kind: 'receiver', hostPort: key, fingerprint }];
    await this.save();
  }

  /** Forgets `hostPort` and rewrites the file; returns false when it was not known. */
  async remove(hostPort: string): Promise<boolean> {
    const key = normalizeKey(hostPort);
    const before = this.lines.length;
    this.lines = this.lines.filter((line) => !(line.kind === 'receiver' && line.hostPort === key));
    if (this.lines.length === before) {
      return false;
    }
    await this.save();
    return true;
  }

  private async save(): Promise<void> {
    const text = this.lines.map((line) => (line.kind === 'text' ? line.text : `${line.hostPort} ${line.fingerprint}`)).join('\n') + '\n';
    try {
      await fs.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new SftError('IO_FAILED', `Cannot create the folder of known-receivers file ${this.file}: ${(error as Error).message}`, { cause: error });
    }
    await writeFileAtomic(this.file, text);
  }
}

function normalizeKey(hostPort: string): string {
  const { host, port } = parseHostPort(hostPort, 'the known-receivers key');
  return formatHostPort(host, port);
}

function parseLines(text: string, file: string): Line[] {
  const lines: Line[] = [];
  const raw = text.split(/\r?\n/);
  if (raw.length > 0 && raw[raw.length - 1] === '') {
    raw.pop();
  }
  raw.forEach((textLine, index) => {
    const trimmed = textLine.trim();
    if (trimmed === '' || trimmed.startsWith('#')) {
      lines.push({ kind: 'text', text: textLine });
      return;
    }
    const fields = trimmed.split(/\s+/);
    const where = `line ${index + 1} of known-receivers file ${file}`;
    if (fields.length !== 2 || !isFingerprint(fields[1])) {
      throw new SftError('IO_FAILED', `Invalid ${where}: expected "HOST:PORT SHA256:...". Fix or delete that line.`);
    }
    let key: string;
    try {
      key = normalizeKey(fields[0]);
    } catch (error) {
      throw new SftError('IO_FAILED', `Invalid ${where}: ${(error as Error).message}`, { cause: error });
    }
    lines.push({ kind: 'receiver', hostPort: key, fingerprint: fields[1] });
  });
  return lines;
}
