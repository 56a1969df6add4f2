/**
 * Brute force: 1,000 wrong logins from one address against a receiver with the default
 * login limiter. The lockout must hold, the receiver must keep replying to other peers, and
 * the real user must still log in and send from another loopback address.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LoginLimiter } from '../../src/storage/login-limiter';
import { sendFiles } from '../../src/transfer/sender';
import { HostileReceiver, PASSWORD, RawClient, USER, sendOptions, startReceiver, tempDir } from './receiver-harness';
import { SeededRandom, suiteSeed } from './seeded-random';

const SEED = suiteSeed(0xb0f0_1000);
const ATTEMPTS = 1000;
/** The receiver's default limit of connections per address that have not logged in. */
const ATTACKER_CONNECTIONS = 8;
const ATTACKER = '127.0.0.1';
const USER_ADDRESS = '127.0.0.2';
const PROBE_ADDRESS = '127.0.0.3';
const PROBE_INTERVAL_MS = 200;
/** Bound on one probe's connect-and-hello while the attack runs, on a busy 2-core machine. */
const MAX_PROBE_MS = 5_000;
/** The limiter delays a username's next login by up to 4 s after failures; this adds room. */
const MAX_USER_LOGIN_MS = 10_000;

let target: HostileReceiver;
let work: string;

before(async () => {
  work = await tempDir('brute');
  // The production policy: lockout after 5 failures in 15 minutes, delays up to 4 s.
  target = await startReceiver({ storeDir: path.join(work, 'store'), loginLimiter: new LoginLimiter(), users: [[USER, PASSWORD], ['bob', 'bob-has-another-password-77']] });
});

after(async () => {
  await target.stop();
  await fs.rm(work, { recursive: true, force: true });
});

interface Tally {
  invalid: number;
  locked: number;
  /** Connections the receiver closed before replying, because of its per-address limit. */
  refused: number;
}

/** Tries one wrong login and returns the receiver's reply, or 'refused' when it closed the connection first. */
async function wrongLogin(username: string, password: string): Promise<{ reason: 'invalid' | 'locked' | 'refused'; message?: string; retryAfterMs?: number }> {
  let client: RawClient;
  try {
    client = await RawClient.connect(target.port, { localAddress: ATTACKER });
  } catch {
    return { reason: 'refused' };
  }
  try {
    const answer = await client.login(username, password);
    if (answer.type === 'login-ok') throw new Error(`a wrong password for ${username} logged in`);
    if (answer.type !== 'login-failed') throw new Error(`unexpected answer ${JSON.stringify(answer)}`);
    return { reason: answer.reason, message: answer.message, retryAfterMs: answer.retryAfterMs };
  } catch (error) {
    if (error instanceof Error && /logged in|unexpected answer/.test(error.message)) throw error;
    return { reason: 'refused' };
  } finally {
    client.close();
  }
}

describe('brute force', () => {
  test('1,000 wrong logins from one address', { timeout: 180_000 }, async (t) => {
    const random = new SeededRandom(SEED, 1);
    const usernames = [USER, USER, 'bob', 'root', 'admin', 'nobody-here'];
    const wrongPasswords: string[] = [];
    const tally: Tally = { invalid: 0, locked: 0, refused: 0 };
    const messages = new Map<string, Set<string>>();

    // Probe from a third address while the attack runs: connect, hello, close.
    let probing = true;
    const probeTimes: number[] = [];
    const probe = (async () => {
      while (probing) {
        const started = Date.now();
        const client = await RawClient.connect(target.port, { localAddress: PROBE_ADDRESS });
        await client.send({ type: 'hello', versions: [1], software: 'probe' });
        const hello = await client.next(MAX_PROBE_MS);
        assert.equal(hello.type, 'hello');
        client.close();
        probeTimes.push(Date.now() - started);
        await new Promise((resolve) => setTimeout(resolve, PROBE_INTERVAL_MS));
      }
    })();
    // Marks the rejection as handled until the await below reports it.
    probe.catch(() => undefined);

    let next = 0;
    const started = Date.now();
    await Promise.all(Array.from({ length: ATTACKER_CONNECTIONS }, async () => {
      while (next < ATTEMPTS) {
        const attempt = next++;
        const username = usernames[attempt % usernames.length];
        const password = `wrong-${SEED}-${attempt}-${random.next().toString(36)}`;
        wrongPasswords.push(password);
        let answer = await wrongLogin(username, password);
        while (answer.reason === 'refused') {
          tally.refused++;
          await new Promise((resolve) => setTimeout(resolve, 5));
          answer = await wrongLogin(username, password);
        }
        tally[answer.reason]++;
        if (answer.reason === 'invalid') {
          const seen = messages.get(username) ?? new Set<string>();
          seen.add(answer.message ?? '');
          messages.set(username, seen);
        }
      }
    }));
    const attackMs = Date.now() - started;
    probing = false;
    await probe;

    t.diagnostic(`seed ${SEED}: ${ATTEMPTS} wrong logins in ${attackMs} ms: ${tally.invalid} invalid, ${tally.locked} locked, ` +
      `${tally.refused} connections refused by the per-address limit; probe connect+hello max ${Math.max(...probeTimes)} ms over ${probeTimes.length} probes`);

    // The lockout holds: only the first five attempts reached the password check.
    assert.equal(tally.invalid + tally.locked, ATTEMPTS);
    assert.equal(tally.invalid, 5, `seed ${SEED}: ${tally.invalid} attempts were checked, expected 5 before the lockout`);

    // Unknown and known usernames get the same answer.
    const allMessages = new Set([...messages.values()].flatMap((set) => [...set]));
    assert.equal(allMessages.size, 1, `the failure messages differ by username: ${JSON.stringify([...messages].map(([user, set]) => [user, [...set]]))}`);

    // The receiver stayed responsive.
    assert.ok(probeTimes.length >= 2, `only ${probeTimes.length} probes ran`);
    assert.ok(Math.max(...probeTimes) < MAX_PROBE_MS, `a probe took ${Math.max(...probeTimes)} ms`);

    // The right password from the locked address is still locked out.
    const locked = await RawClient.connect(target.port, { localAddress: ATTACKER });
    const lockedAnswer = await locked.login(USER, PASSWORD);
    locked.close();
    assert.equal(lockedAnswer.type, 'login-failed');
    assert.equal((lockedAnswer as { reason: string }).reason, 'locked');
    assert.ok(((lockedAnswer as { retryAfterMs?: number }).retryAfterMs ?? 0) > 60_000, 'the lockout lasts minutes, not seconds');

    // The real user logs in from another address, and so does another user.
    for (const [username, password] of [[USER, PASSWORD], ['bob', 'bob-has-another-password-77']]) {
      const loginStarted = Date.now();
      const client = await RawClient.connect(target.port, { localAddress: USER_ADDRESS });
      const answer = await client.login(username, password);
      client.close();
      assert.equal(answer.type, 'login-ok', `${username} from ${USER_ADDRESS}: ${JSON.stringify(answer)}`);
      assert.ok(Date.now() - loginStarted < MAX_USER_LOGIN_MS, `${username} took ${Date.now() - loginStarted} ms to log in`);
    }

    // Every failure is in the log with its address and username, and no password is.
    const failureLines = target.log.filter((line) => /Login (failed|rejected)/.test(line));
    assert.ok(failureLines.length >= 5, `${failureLines.length} login failures were logged`);
    assert.ok(failureLines.every((line) => line.includes(ATTACKER)), 'a failure line lacks the address');
    const logText = target.log.join('\n');
    for (const password of [...wrongPasswords, PASSWORD]) {
      assert.ok(!logText.includes(password), `the log contains the password ${password}`);
    }
    t.diagnostic(`${failureLines.length} log lines for ${ATTEMPTS} failures`);
  });

  test('real sender delivers after the attack', { timeout: 60_000 }, async () => {
    const file = path.join(work, 'after-attack.txt');
    await fs.writeFile(file, 'sent after 1,000 wrong logins\n');
    const result = await sendFiles(await sendOptions(target.port, [file], { localAddress: USER_ADDRESS }));
    assert.deepEqual(result.files.map((entry) => entry.status), ['delivered']);
  });
});
