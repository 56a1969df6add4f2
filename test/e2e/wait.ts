/**
 * Polling for conditions that Playwright's own waits cannot see, such as a
 * file appearing on disk or a tree view reaching a given content.
 */

export const DEFAULT_WAIT_MS = 30_000;
const POLL_INTERVAL_MS = 100;

export interface WaitOptions {
  /** Milliseconds before the wait fails; default 30 s. */
  timeout?: number;
  /** Named in the error when the condition never becomes true. */
  message?: string;
}

/**
 * Calls `check` until it returns a value other than undefined, null or false,
 * and resolves with that value. Rejects after `timeout` with `message` and
 * the last error that `check` threw, if any.
 *
 * Example: `await waitUntil(() => fs.existsSync(zip) || undefined, { message: 'ZIP written' })`
 */
export async function waitUntil<T>(
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  options: WaitOptions = {},
): Promise<T> {
  const timeout = options.timeout ?? DEFAULT_WAIT_MS;
  const deadline = Date.now() + timeout;
  let lastError: unknown;

  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== null && value !== false) {
        return value;
      }
    } catch (error) {
      lastError = error;
    }

    if (Date.now() > deadline) {
      const reason = lastError instanceof Error ? ` Last error: ${lastError.message}` : '';
      throw new Error(`Timed out after ${timeout} ms waiting for: ${options.message ?? 'condition'}.${reason}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}

/** Returns a regular expression that matches exactly `text`, for Playwright's `hasText`. */
export function exactText(text: string): RegExp {
  return new RegExp(`^\\s*${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`);
}
