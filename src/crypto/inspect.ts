/**
 * Describes an envelope's header without any secret: version, stanza types, fingerprints.
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { readHeader } from './envelope';
import { StanzaType } from './format';
import { ioError } from './files';
import { formatFingerprint } from './keys';

export type StanzaKind = 'passphrase' | 'rsa' | 'passphrase+rsa';

export interface EnvelopeSummary {
  version: number;
  headerLength: number;
  stanzas: Array<{ type: StanzaKind; fingerprint?: string; iterations?: number }>;
}

/** Reads the header of the envelope at `file` (or from `source`) and summarizes it. */
export async function inspectEnvelope(file: string, source?: Readable): Promise<EnvelopeSummary> {
  const input = source ?? createReadStream(file, { highWaterMark: 64 * 1024 });
  try {
    const header = await readHeader(input).catch((error: unknown) => {
      throw ioError(error, file, 'read');
    });
    return {
      version: header.version,
      headerLength: header.length,
      stanzas: header.stanzas.map((stanza) => {
        switch (stanza.type) {
          case StanzaType.passphrase:
          case StanzaType.sharedPassphrase:
            return { type: 'passphrase', iterations: stanza.iterations };
          case StanzaType.rsa:
            return { type: 'rsa', fingerprint: formatFingerprint(stanza.fingerprint) };
          case StanzaType.passphraseRsa:
          case StanzaType.sharedPassphraseRsa:
            return { type: 'passphrase+rsa', fingerprint: formatFingerprint(stanza.fingerprint), iterations: stanza.iterations };
        }
      }),
    };
  } finally {
    input.destroy();
  }
}
