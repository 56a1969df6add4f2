/**
 * Receiver addresses: `HOST:PORT` and links of the form `sft://HOST:PORT#SHA256:...`.
 *
 * IPv6 addresses are written in brackets (`[::1]:7443`). Host names are compared in lower
 * case. Every error names the value that failed and shows the expected form.
 */
import * as net from 'node:net';
import { SftError } from '../errors';
import { isFingerprint } from './identity';

export const LINK_SCHEME = 'sft://';
const MAX_HOST_NAME_CHARS = 253;
const HOST_NAME_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** A receiver's address, with the fingerprint a link carried, if any. */
export interface ReceiverAddress {
  /** Host name in lower case, IPv4 address, or IPv6 address without brackets. */
  host: string;
  port: number;
  fingerprint?: string;
}

function invalid(value: string, source: string, reason: string): SftError {
  const shown = value.length > 120 ? `${value.slice(0, 120)}…` : value;
  return new SftError('USAGE', `Invalid receiver address "${shown}" in ${source}: ${reason}. Use HOST:PORT, [IPv6]:PORT or sft://HOST:PORT#SHA256:...`);
}

/** Parses `HOST:PORT` or `[IPv6]:PORT`. `source` names where the value came from, for errors. */
export function parseHostPort(text: string, source = 'the address'): { host: string; port: number } {
  let hostPart: string;
  let portPart: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') {
      throw invalid(text, source, 'an IPv6 address in brackets must be followed by ":PORT"');
    }
    hostPart = text.slice(1, close);
    portPart = text.slice(close + 2);
    if (!net.isIPv6(hostPart)) {
      throw invalid(text, source, `"${hostPart}" is not an IPv6 address`);
    }
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) {
      throw invalid(text, source, 'the port is missing');
    }
    hostPart = text.slice(0, colon);
    portPart = text.slice(colon + 1);
    if (hostPart.includes(':')) {
      throw invalid(text, source, 'write an IPv6 address in brackets, as [::1]:7443');
    }
    hostPart = hostPart.toLowerCase();
    if (!net.isIPv4(hostPart) && !isHostName(hostPart)) {
      throw invalid(text, source, `"${hostPart}" is not a host name or IP address`);
    }
  }
  return { host: hostPart, port: parsePort(portPart, text, source) };
}

function isHostName(host: string): boolean {
  if (host.length === 0 || host.length > MAX_HOST_NAME_CHARS) {
    return false;
  }
  return host.split('.').every((label) => HOST_NAME_LABEL.test(label));
}

function parsePort(portPart: string, whole: string, source: string): number {
  if (!/^[0-9]{1,5}$/.test(portPart)) {
    throw invalid(whole, source, `port "${portPart}" is not a number`);
  }
  const port = Number(portPart);
  if (port < 1 || port > 65535) {
    throw invalid(whole, source, `port ${port} is outside 1..65535`);
  }
  return port;
}

/** Formats a host and port as `HOST:PORT`, with IPv6 addresses in brackets. */
export function formatHostPort(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Parses a receiver link (`sft://HOST:PORT`, optionally with `#SHA256:...`) or a bare
 * `HOST:PORT`. Throws SftError('USAGE') naming `source` and the value.
 */
export function parseReceiverAddress(text: string, source = 'the receiver address'): ReceiverAddress {
  const value = text.trim();
  let rest = value;
  if (rest.toLowerCase().startsWith(LINK_SCHEME)) {
    rest = rest.slice(LINK_SCHEME.length);
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(rest)) {
    throw invalid(value, source, 'the scheme is not sft://');
  }

  let fingerprint: string | undefined;
  const hash = rest.indexOf('#');
  if (hash >= 0) {
    fingerprint = rest.slice(hash + 1);
    rest = rest.slice(0, hash);
    if (!isFingerprint(fingerprint)) {
      throw invalid(value, source, 'the part after "#" is not a fingerprint (SHA256: and 43 base64 characters)');
    }
  }
  if (rest.endsWith('/')) {
    rest = rest.slice(0, -1);
  }

  const { host, port } = parseHostPort(rest, source);
  return fingerprint === undefined ? { host, port } : { host, port, fingerprint };
}

/** Formats a receiver link: `sft://HOST:PORT#SHA256:...`. */
export function formatLink(address: { host: string; port: number; fingerprint: string }): string {
  return `${LINK_SCHEME}${formatHostPort(address.host, address.port)}#${address.fingerprint}`;
}
