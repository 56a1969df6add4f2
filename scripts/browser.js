// Launches Debian's Chromium through playwright-core with every request that
// leaves the machine blocked. Used by the extension-host tests and the UI tests.
'use strict';
const { toolPaths } = require('./tools');

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  // Name lookups fail for every host except the loopback ones, which also
  // covers requests that page.route() does not see (service workers, DNS
  // prefetch).
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
];

/** Returns true for URLs that stay on this machine or need no network. */
function isLocalUrl(url) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol === 'data:' || parsed.protocol === 'blob:') return true;
  return LOCAL_HOSTS.has(parsed.hostname);
}

/**
 * Launches headless Chromium and opens a context whose requests to any host
 * other than 127.0.0.1 or localhost are aborted.
 *
 * Resolves with { browser, context, blockedUrls, close() }; `blockedUrls`
 * collects every aborted URL so a test can report or check them.
 */
async function launchBrowser(options = {}) {
  const { chromium } = require('playwright-core');
  const browser = await chromium.launch({
    executablePath: toolPaths().chromium,
    headless: options.headless ?? true,
    args: CHROMIUM_ARGS,
  });

  const context = await browser.newContext({
    viewport: options.viewport || { width: 1440, height: 900 },
  });
  const blockedUrls = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (isLocalUrl(url)) return route.continue();
    blockedUrls.push(url);
    return route.abort('blockedbyclient');
  });

  const close = async () => {
    await context.close().catch(() => {});
    await browser.close().catch(() => {});
  };
  return { browser, context, blockedUrls, close };
}

module.exports = { launchBrowser, isLocalUrl, CHROMIUM_ARGS };
