// Types of scripts/browser.js for the TypeScript test harness.
import type { Browser, BrowserContext } from 'playwright-core';

export interface LaunchedBrowser {
  browser: Browser;
  context: BrowserContext;
  blockedUrls: string[];
  close(): Promise<void>;
}

export const CHROMIUM_ARGS: string[];
export function isLocalUrl(url: string): boolean;
export function launchBrowser(options?: { headless?: boolean; viewport?: { width: number; height: number } }): Promise<LaunchedBrowser>;
