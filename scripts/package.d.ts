// Types of scripts/package.js for the TypeScript test harness.

export function packageExtension(): Promise<string>;
export function listVsixFiles(): Promise<string[]>;
export function checkVsixFiles(files: string[]): void;
export function vsixPath(): string;
