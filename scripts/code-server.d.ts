// Types of scripts/code-server.js for the TypeScript test harness.

export const LOOPBACK_HOST: '127.0.0.1';
export const DEFAULT_SETTINGS: Record<string, unknown>;

export interface CodeServerDirs {
  userDataDir: string;
  extensionsDir: string;
  xdgDir: string;
}

export interface StartOptions extends CodeServerDirs {
  port: number;
  host?: '127.0.0.1' | 'localhost';
  folder?: string;
  logFile?: string;
  smokeTestDriver?: boolean;
  settings?: Record<string, unknown>;
  extraArgs?: string[];
}

export interface CodeServer {
  url: string;
  port: number;
  host: string;
  pid: number;
  logFile: string;
  exited: Promise<number | string>;
  stop(): Promise<void>;
}

export function startCodeServer(options: StartOptions): Promise<CodeServer>;
export function installExtension(options: CodeServerDirs & { vsix: string }): string;
export function findFreePort(host?: string): Promise<number>;
export function isPortFree(port: number, host?: string): Promise<boolean>;
export function codeServerEnvironment(xdgDir: string): NodeJS.ProcessEnv;
export function latestLogDir(userDataDir: string): string | null;
export function writeDefaultSettings(userDataDir: string, overrides?: Record<string, unknown>): void;
