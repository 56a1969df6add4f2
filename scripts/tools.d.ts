// Types of scripts/tools.js for the TypeScript test harness.

export interface ToolPaths {
  toolsDir: string;
  binDir: string;
  node: string;
  nodeHome: string;
  codeServerEntry: string;
  codeServerVersion: string;
  chromium: string;
}

export const CODE_SERVER_VERSION: string;
export class ToolsError extends Error {}
export function ensureTools(): Promise<ToolPaths>;
export function missingTools(): string[];
export function toolPaths(): ToolPaths;
export function node24Environment(base?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
