/**
 * Limits failed logins per remote address and per username.
 *
 * Policy:
 * - An address is locked after `maxFailures` failed attempts within `windowMs`, whatever
 *   usernames they named, until the oldest of those failures leaves the window. Attempts
 *   rejected while locked are not counted, so the lock does not grow without end.
 * - A username is never locked, only slowed down: each attempt waits a delay that grows
 *   with the recent failures of that username from all addresses and of the address.
 *   Locking usernames would let anyone lock the real user out by guessing from elsewhere;
 *   the delay still slows a guessing attack spread over many addresses.
 * - A success removes the failures of that (address, username) pair only. Logging in to
 *   one's own account does not clear failures made against other accounts.
 * - Every attempt counts as a failure as soon as it begins, until `recordSuccess`, so
 *   attempts made in parallel over several connections cannot slip past the limit.
 * - IPv6 addresses are tracked by their /64 prefix, because one host usually owns a whole
 *   /64 and could otherwise rotate addresses; IPv4-mapped IPv6 addresses count as IPv4.
 * - At most `maxTrackedKeys` addresses and as many usernames are tracked; the least
 *   recently failed ones are forgotten first.
 */

import { isIPv4, isIPv6 } from 'node:net';

/** The outcome of `beginAttempt`. */
export interface LoginDecision {
  /** False when the address is locked; then reject without checking the password. */
  allowed: boolean;
  /** Time until the lock ends, in milliseconds; 0 when allowed. */
  retryAfterMs: number;
  /** Time to wait before checking the password, in milliseconds; 0 when not allowed. */
  delayMs: number;
}

export interface LoginLimiterOptions {
  /** Failed attempts within `windowMs` that lock an address. Default 5. */
  maxFailures?: number;
  /** Length of the window in which failures count, in milliseconds. Default 15 minutes. */
  windowMs?: number;
  /** Delay before the check, indexed by the number of recent failures (the last value repeats). */
  delaysMs?: readonly number[];
  /** Addresses and usernames tracked at most, each. Default 10,000. */
  maxTrackedKeys?: number;
  /** Current time in milliseconds; injectable for tests. Default `Date.now`. */
  now?: () => number;
}

export const DEFAULT_MAX_FAILURES = 5;
export const DEFAULT_WINDOW_MS = 15 * 60 * 1000;
export const DEFAULT_DELAYS_MS: readonly number[] = [0, 500, 1000, 2000, 4000];
export const DEFAULT_MAX_TRACKED_KEYS = 10_000;

/** Usernames from the network are cut to this length before they become keys. */
const MAX_USERNAME_KEY_LENGTH = 128;

interface Failure {
  atMs: number;
  /** The username for an address's failures, the address for a username's failures. */
  counterpart: string;
}

/** Counts failed logins in memory; one instance per receiver. */
export class LoginLimiter {
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly delaysMs: readonly number[];
  private readonly maxTrackedKeys: number;
  private readonly maxFailuresKept: number;
  private readonly now: () => number;

  // Map iteration follows insertion order, and a key is re-inserted on each failure,
  // so the first key is always the least recently failed one.
  private readonly byAddress = new Map<string, Failure[]>();
  private readonly byUsername = new Map<string, Failure[]>();

  constructor(options: LoginLimiterOptions = {}) {
    this.maxFailures = options.maxFailures ?? DEFAULT_MAX_FAILURES;
    this.windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
    this.delaysMs = options.delaysMs ?? DEFAULT_DELAYS_MS;
    this.maxTrackedKeys = options.maxTrackedKeys ?? DEFAULT_MAX_TRACKED_KEYS;
    this.now = options.now ?? Date.now;

    if (!Number.isInteger(this.maxFailures) || this.maxFailures < 1) {
      throw new RangeError(`maxFailures must be a positive integer, got ${this.maxFailures}`);
    }
    if (!(this.windowMs > 0)) {
      throw new RangeError(`windowMs must be positive, got ${this.windowMs}`);
    }
    if (this.delaysMs.length === 0 || this.delaysMs.some((delay) => !(delay >= 0))) {
      throw new RangeError('delaysMs must be a non-empty list of delays of 0 or more milliseconds');
    }
    if (!Number.isInteger(this.maxTrackedKeys) || this.maxTrackedKeys < 1) {
      throw new RangeError(`maxTrackedKeys must be a positive integer, got ${this.maxTrackedKeys}`);
    }

    // Twice what a decision needs, so that removing one pair's failures after a success
    // still leaves the failures made against other usernames to count.
    this.maxFailuresKept = 2 * Math.max(this.maxFailures, this.delaysMs.length);
  }

  /**
   * Decides whether a login attempt may go ahead, and counts it as a failure until
   * `recordSuccess` is called for the same address and username.
   */
  beginAttempt(address: string, username: string): LoginDecision {
    const now = this.now();
    const addressKey = addressKeyOf(address);
    const usernameKey = usernameKeyOf(username);

    const addressFailures = this.recentFailures(this.byAddress, addressKey, now);
    if (addressFailures.length >= this.maxFailures) {
      const oldestCounted = addressFailures[addressFailures.length - this.maxFailures];
      const retryAfterMs = Math.max(1, oldestCounted.atMs + this.windowMs - now);
      return { allowed: false, retryAfterMs, delayMs: 0 };
    }

    const usernameFailures = this.recentFailures(this.byUsername, usernameKey, now);
    const delayMs = Math.max(this.delayFor(addressFailures.length), this.delayFor(usernameFailures.length));

    this.addFailure(this.byAddress, addressKey, { atMs: now, counterpart: usernameKey });
    this.addFailure(this.byUsername, usernameKey, { atMs: now, counterpart: addressKey });
    return { allowed: true, retryAfterMs: 0, delayMs };
  }

  /** Removes the failures of this (address, username) pair, including the attempt that succeeded. */
  recordSuccess(address: string, username: string): void {
    const addressKey = addressKeyOf(address);
    const usernameKey = usernameKeyOf(username);

    removeFailures(this.byAddress, addressKey, usernameKey);
    removeFailures(this.byUsername, usernameKey, addressKey);
  }

  /** Number of addresses and usernames tracked, for tests and status output. */
  get trackedKeys(): { addresses: number; usernames: number } {
    return { addresses: this.byAddress.size, usernames: this.byUsername.size };
  }

  private delayFor(failures: number): number {
    return this.delaysMs[Math.min(failures, this.delaysMs.length - 1)];
  }

  private recentFailures(map: Map<string, Failure[]>, key: string, now: number): Failure[] {
    const failures = map.get(key);
    if (failures === undefined) {
      return [];
    }

    const recent = failures.filter((failure) => now - failure.atMs < this.windowMs);
    if (recent.length === 0) {
      map.delete(key);
    } else if (recent.length !== failures.length) {
      map.set(key, recent);
    }
    return recent;
  }

  private addFailure(map: Map<string, Failure[]>, key: string, failure: Failure): void {
    const failures = map.get(key) ?? [];
    failures.push(failure);
    if (failures.length > this.maxFailuresKept) {
      failures.splice(0, failures.length - this.maxFailuresKept);
    }

    map.delete(key);
    map.set(key, failures);

    while (map.size > this.maxTrackedKeys) {
      const oldest = map.keys().next().value as string;
      map.delete(oldest);
    }
  }
}

function removeFailures(map: Map<string, Failure[]>, key: string, counterpart: string): void {
  const failures = map.get(key);
  if (failures === undefined) {
    return;
  }

  const kept = failures.filter((failure) => failure.counterpart !== counterpart);
  if (kept.length === 0) {
    map.delete(key);
  } else {
    map.set(key, kept);
  }
}

function usernameKeyOf(username: string): string {
  return String(username).slice(0, MAX_USERNAME_KEY_LENGTH);
}

/** Returns the key an address is counted under: IPv4 as is, IPv6 as its /64 prefix. */
export function addressKeyOf(address: string): string {
  const withoutZone = String(address).split('%')[0];

  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(withoutZone);
  if (mapped !== null && isIPv4(mapped[1])) {
    return mapped[1];
  }
  if (!isIPv6(withoutZone)) {
    return withoutZone.slice(0, 64);
  }

  return expandIPv6(withoutZone).slice(0, 4).join(':') + '::/64';
}

/** Expands an IPv6 address into its eight 16-bit groups in lowercase hex without leading zeros. */
function expandIPv6(address: string): string[] {
  let text = address.toLowerCase();

  // An embedded IPv4 tail (::a.b.c.d) is two more groups.
  const ipv4Tail = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (ipv4Tail !== null) {
    const [a, b, c, d] = ipv4Tail.slice(1).map(Number);
    text = text.slice(0, ipv4Tail.index) + ((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16);
  }

  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : new Array<string>(8 - headGroups.length - tailGroups.length).fill('0');

  return [...headGroups, ...zeros, ...tailGroups].map((group) => parseInt(group, 16).toString(16));
}
