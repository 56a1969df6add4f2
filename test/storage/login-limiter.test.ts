import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { addressKeyOf, DEFAULT_DELAYS_MS, LoginLimiter } from '../../src/storage/login-limiter';

const MINUTE = 60 * 1000;

/** Returns a clock that the test moves by hand. */
function manualClock(startMs = 1_700_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let current = startMs;
  return {
    now: () => current,
    advance: (ms: number) => {
      current += ms;
    },
  };
}

/** Makes `count` failed attempts; returns the decisions. */
function fail(limiter: LoginLimiter, address: string, username: string, count: number) {
  return Array.from({ length: count }, () => limiter.beginAttempt(address, username));
}

describe('LoginLimiter', () => {
  it('grows the delay with each failure', () => {
    const clock = manualClock();
    const limiter = new LoginLimiter({ now: clock.now });

    const delays = fail(limiter, '192.0.2.1', 'alice', 5).map((decision) => decision.delayMs);
    assert.deepEqual(delays, [0, 500, 1000, 2000, 4000]);
  });

  it('locks an address after 5 failures in 15 minutes', () => {
    const clock = manualClock();
    const limiter = new LoginLimiter({ now: clock.now });

    const allowed = fail(limiter, '192.0.2.1', 'alice', 5);
    assert.ok(allowed.every((decision) => decision.allowed));

    const locked = limiter.beginAttempt('192.0.2.1', 'alice');
    assert.equal(locked.allowed, false);
    assert.equal(locked.delayMs, 0);
    assert.equal(locked.retryAfterMs, 15 * MINUTE);
  });

  it('locks an address trying many usernames', () => {
    const clock = manualClock();
    const limiter = new LoginLimiter({ now: clock.now });

    for (const username of ['a', 'b', 'c', 'd', 'e']) {
      assert.equal(limiter.beginAttempt('192.0.2.1', username).allowed, true);
    }
    assert.equal(limiter.beginAttempt('192.0.2.1', 'f').allowed, false);
  });

  it('unlocks when the oldest failure leaves the window', () => {
    const clock = manualClock();
    const limiter = new LoginLimiter({ now: clock.now });
    fail(limiter, '192.0.2.1', 'alice', 1);
    clock.advance(5 * MINUTE);
    fail(limiter, '192.0.2.1', 'alice', 4);

    const locked = limiter.beginAttempt('192.0.2.1', 'alice');
    assert.equal(locked.retryAfterMs, 10 * MINUTE);

    clock.advance(10 * MINUTE - 1);
    assert.equal(limiter.beginAttempt('192.0.2.1', 'alice').allowed, false);

    clock.advance(1);
    assert.equal(limiter.beginAttempt('192.0.2.1', 'alice').allowed, true);
  });

  it('holds the lock through 1,000 attempts', () => {
    const clock = manualClock();
    const limiter = new LoginLimiter({ now: clock.now });

    let allowed = 0;
    for (let attempt = 0; attempt < 1000; attempt += 1) {
      if (limiter.beginAttempt('192.0.2.1', 'alice').allowed) {
        allowed += 1;
      }
      clock.advance(100);
    }
    // 1,000 attempts over 100 s: 5 allowed, the rest rejected, and no more once the lock holds.
    assert.equal(allowed, 5);
  });

  it('lets the real user in from another address', () => {
    const clock = manualClock();
    const limiter = new LoginLimiter({ now: clock.now });
    fail(limiter, '192.0.2.1', 'alice', 1000);

    const decision = limiter.beginAttempt('198.51.100.7', 'alice');
    assert.equal(decision.allowed, true);
    // Five failures against alice slow her down but never lock her out.
    assert.equal(decision.delayMs, DEFAULT_DELAYS_MS[DEFAULT_DELAYS_MS.length - 1]);
    limiter.recordSuccess('198.51.100.7', 'alice');
  });

  it('never locks a username attacked from many addresses', () => {
    const clock = manualClock();
    const limiter = new LoginLimiter({ now: clock.now });
    for (let host = 1; host <= 200; host += 1) {
      fail(limiter, `203.0.113.${host % 250}`, 'alice', 1);
    }

    const decision = limiter.beginAttempt('198.51.100.7', 'alice');
    assert.equal(decision.allowed, true);
    assert.equal(decision.delayMs, 4000);
  });

  it('resets the pair on success', () => {
    const clock = manualClock();
    const limiter = new LoginLimiter({ now: clock.now });
    fail(limiter, '192.0.2.1', 'alice', 4);

    limiter.beginAttempt('192.0.2.1', 'alice');
    limiter.recordSuccess('192.0.2.1', 'alice');

    const next = limiter.beginAttempt('192.0.2.1', 'alice');
    assert.equal(next.allowed, true);
    assert.equal(next.delayMs, 0);
  });

  it('keeps failures against other usernames after a success', () => {
    const clock = manualClock();
    const limiter = new LoginLimiter({ now: clock.now });
    fail(limiter, '192.0.2.1', 'victim', 4);

    // The attacker logs in to their own account to try to clear the count.
    limiter.beginAttempt('192.0.2.1', 'attacker');
    limiter.recordSuccess('192.0.2.1', 'attacker');

    assert.equal(limiter.beginAttempt('192.0.2.1', 'victim').allowed, true);
    assert.equal(limiter.beginAttempt('192.0.2.1', 'victim').allowed, false);
  });

  it('counts parallel attempts before they finish', () => {
    const clock = manualClock();
    const limiter = new LoginLimiter({ now: clock.now });

    // Twenty connections ask at once; none has reported a result yet.
    const decisions = fail(limiter, '192.0.2.1', 'alice', 20);
    assert.equal(decisions.filter((decision) => decision.allowed).length, 5);
  });

  it('treats IPv4-mapped IPv6 as IPv4', () => {
    const clock = manualClock();
    const limiter = new LoginLimiter({ now: clock.now });
    fail(limiter, '::ffff:192.0.2.1', 'alice', 5);

    assert.equal(limiter.beginAttempt('192.0.2.1', 'alice').allowed, false);
  });

  it('counts an IPv6 /64 as one address', () => {
    const clock = manualClock();
    const limiter = new LoginLimiter({ now: clock.now });
    for (let host = 1; host <= 5; host += 1) {
      limiter.beginAttempt(`2001:db8:1:2::${host.toString(16)}`, 'alice');
    }

    assert.equal(limiter.beginAttempt('2001:db8:1:2:ffff::1', 'alice').allowed, false);
    assert.equal(limiter.beginAttempt('2001:db8:1:3::1', 'alice').allowed, true);
  });

  it('bounds the tracked keys', () => {
    const clock = manualClock();
    const limiter = new LoginLimiter({ now: clock.now, maxTrackedKeys: 100 });
    for (let index = 0; index < 1000; index += 1) {
      limiter.beginAttempt(`10.0.${index >> 8}.${index & 255}`, `user${index}`);
    }

    assert.deepEqual(limiter.trackedKeys, { addresses: 100, usernames: 100 });
  });

  it('forgets the least recently failed key first', () => {
    const clock = manualClock();
    const limiter = new LoginLimiter({ now: clock.now, maxTrackedKeys: 3 });
    fail(limiter, '192.0.2.1', 'alice', 5); // locked
    limiter.beginAttempt('192.0.2.2', 'x');
    limiter.beginAttempt('192.0.2.3', 'x');

    assert.equal(limiter.beginAttempt('192.0.2.1', 'alice').allowed, false);
    limiter.beginAttempt('192.0.2.4', 'x');
    assert.equal(limiter.beginAttempt('192.0.2.1', 'alice').allowed, true);
  });

  it('drops keys whose failures expired', () => {
    const clock = manualClock();
    const limiter = new LoginLimiter({ now: clock.now });
    fail(limiter, '192.0.2.1', 'alice', 2);

    clock.advance(16 * MINUTE);
    const decision = limiter.beginAttempt('192.0.2.1', 'alice');
    assert.equal(decision.delayMs, 0);
    assert.deepEqual(limiter.trackedKeys, { addresses: 1, usernames: 1 });
  });

  it('bounds username keys from the network', () => {
    const limiter = new LoginLimiter();
    limiter.beginAttempt('192.0.2.1', 'u'.repeat(1_000_000));
    limiter.recordSuccess('192.0.2.1', 'u'.repeat(1_000_000));
    assert.deepEqual(limiter.trackedKeys, { addresses: 0, usernames: 0 });
  });

  it('takes its settings from the options', () => {
    const clock = manualClock();
    const limiter = new LoginLimiter({ now: clock.now, maxFailures: 2, windowMs: 1000, delaysMs: [0, 10] });
    assert.deepEqual(fail(limiter, '192.0.2.1', 'alice', 3), [
      { allowed: true, retryAfterMs: 0, delayMs: 0 },
      { allowed: true, retryAfterMs: 0, delayMs: 10 },
      { allowed: false, retryAfterMs: 1000, delayMs: 0 },
    ]);
  });

  it('rejects invalid options', () => {
    assert.throws(() => new LoginLimiter({ maxFailures: 0 }), RangeError);
    assert.throws(() => new LoginLimiter({ delaysMs: [] }), RangeError);
    assert.throws(() => new LoginLimiter({ windowMs: -1 }), RangeError);
    assert.throws(() => new LoginLimiter({ maxTrackedKeys: 0 }), RangeError);
  });
});

describe('addressKeyOf', () => {
  it('keeps IPv4 whole', () => {
    assert.equal(addressKeyOf('127.0.0.1'), '127.0.0.1');
  });

  it('unwraps IPv4-mapped IPv6', () => {
    assert.equal(addressKeyOf('::FFFF:127.0.0.1'), '127.0.0.1');
  });

  it('reduces IPv6 to its /64', () => {
    assert.equal(addressKeyOf('::1'), '0:0:0:0::/64');
    assert.equal(addressKeyOf('2001:DB8:0:1:2:3:4:5'), '2001:db8:0:1::/64');
    assert.equal(addressKeyOf('2001:db8::1%eth0'), '2001:db8:0:0::/64');
    assert.equal(addressKeyOf('fe80::1:2:3:4'), 'fe80:0:0:0::/64');
  });
});
