/**
 * Helpers shared by the webview scripts: the VS Code API handle, the localized strings
 * that the extension embeds in the page, and access to form fields by id.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-form-group/index.js';
import '@vscode-elements/elements/dist/vscode-form-helper/index.js';
import '@vscode-elements/elements/dist/vscode-label/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';

interface VsCodeApi {
  postMessage(message: unknown): void;
  setState(state: unknown): void;
  getState(): unknown;
}

declare function acquireVsCodeApi(): VsCodeApi;

/** The webview's only handle to the extension; acquireVsCodeApi may be called once per page. */
export const vscode = acquireVsCodeApi();

const strings: Record<string, string> = JSON.parse(document.getElementById('strings')?.textContent ?? '{}');

/** Returns the localized string for `key`, with `{0}`, `{1}`… replaced by `args`. */
export function t(key: string, ...args: Array<string | number>): string {
  const text = strings[key] ?? key;
  return text.replace(/\{(\d+)\}/g, (whole, index: string) => {
    const value = args[Number(index)];
    return value === undefined ? whole : String(value);
  });
}

/** Returns the element with `id`; a missing one is a bug in the page, so it throws. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) {
    throw new Error(`The page has no element with id "${id}".`);
  }
  return element as T;
}

/** A text field from @vscode-elements, or a plain input: both have `value` and `disabled`. */
export interface TextField extends HTMLElement {
  value: string;
  disabled: boolean;
  invalid?: boolean;
}

export interface CheckBox extends HTMLElement {
  checked: boolean;
  disabled: boolean;
}

export interface Button extends HTMLElement {
  disabled: boolean;
}

/** Shows `text` in the field's error line (id `FIELD-error`) and marks the field invalid. */
export function showFieldError(field: string, text: string): void {
  byId(`${field}-error`).textContent = text;
  const input = document.getElementById(field) as TextField | null;
  if (input) {
    input.invalid = text.length > 0;
  }
}

/**
 * Clears every error line and invalid mark on the page. An alert with markup of its own,
 * such as the changed-fingerprint warning, keeps its elements because its page writes into
 * them later. The page hides that alert instead.
 */
export function clearErrors(): void {
  for (const line of document.querySelectorAll<HTMLElement>('.field-error, .alert')) {
    if (line.childElementCount === 0) {
      line.textContent = '';
    }
  }
  for (const input of document.querySelectorAll<TextField>('vscode-textfield')) {
    input.invalid = false;
  }
}

/** Sets the status line with a progress ring, or hides it for an empty `text`. */
export function setStatus(text: string): void {
  byId('status-text').textContent = text;
  byId('status').hidden = text.length === 0;
}

/** Focuses a field once its custom element has rendered. */
export function focusField(id: string): void {
  const element = document.getElementById(id);
  if (element) {
    requestAnimationFrame(() => element.focus());
  }
}
