/**
 * HTML shell shared by the extension's webview panels: Content Security Policy,
 * nonce, theme-aware styles and the bundled script from media/.
 */
import * as crypto from 'node:crypto';
import * as vscode from 'vscode';

/** Escapes text for an HTML element body or a double-quoted attribute. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Webview options that allow scripts and limit local resources to the media folder. */
export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return {
    enableScripts: true,
    enableCommandUris: false,
    retainContextWhenHidden: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'media')],
  };
}

export interface PageParts {
  title: string;
  /** Markup inside `<main>`; every piece of text in it must already be escaped. */
  body: string;
  /** Bundled script in media/, for example `login.js`. */
  script: string;
  /** Strings that the script shows, passed as JSON because it has no access to `vscode.l10n`. */
  strings: Record<string, string>;
}

const PAGE_STYLE = `
  body { padding: 0 20px 20px; color: var(--vscode-foreground); font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); }
  main { max-width: 560px; }
  h1 { font-size: 1.4em; font-weight: 600; margin: 16px 0 8px; }
  p.lead { color: var(--vscode-descriptionForeground); margin: 0 0 16px; }
  ul.files { margin: 0 0 16px; padding-left: 20px; max-height: 120px; overflow-y: auto; font-family: var(--vscode-editor-font-family); }
  vscode-textfield { width: 100%; }
  vscode-form-group { padding-left: 0; padding-right: 0; }
  .field-error { color: var(--vscode-errorForeground); min-height: 1.2em; margin-top: 2px; }
  .alert { border-left: 3px solid var(--vscode-inputValidation-errorBorder); background: var(--vscode-inputValidation-errorBackground); padding: 8px 12px; margin: 12px 0; }
  .alert:empty { display: none; }
  .notice { border-left: 3px solid var(--vscode-inputValidation-warningBorder); background: var(--vscode-inputValidation-warningBackground); padding: 8px 12px; margin: 12px 0; }
  .fingerprint { font-family: var(--vscode-editor-font-family); word-break: break-all; user-select: all; }
  .strength-weak { color: var(--vscode-errorForeground); }
  .strength-fair { color: var(--vscode-editorWarning-foreground); }
  .strength-strong { color: var(--vscode-testing-iconPassed); }
  .buttons { display: flex; gap: 8px; margin-top: 16px; }
  .status { display: flex; align-items: center; gap: 8px; margin-top: 12px; color: var(--vscode-descriptionForeground); }
  .status:empty, [hidden] { display: none !important; }
  dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 12px; margin: 0 0 16px; }
  dl.facts dt { color: var(--vscode-descriptionForeground); }
  dl.facts dd { margin: 0; word-break: break-all; }
`;

/** Builds a complete page with a strict CSP: nothing loads except the nonce'd script and media/ files. */
export function renderPage(webview: vscode.Webview, extensionUri: vscode.Uri, parts: PageParts): string {
  const nonce = crypto.randomBytes(18).toString('base64');
  const scriptUri = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', parts.script));
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src ${webview.cspSource} 'nonce-${nonce}'`,
    `font-src ${webview.cspSource}`,
    `img-src ${webview.cspSource}`,
  ].join('; ');

  // A JSON block of type application/json is data, not script, so the CSP does not
  // apply to it; "<" is escaped so the text cannot close the element.
  const strings = JSON.stringify(parts.strings).replace(/</g, '\\u003c');

  return `<!DOCTYPE html>
<html lang="${escapeHtml(vscode.env.language)}">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${escapeHtml(parts.title)}</title>
<style nonce="${nonce}">${PAGE_STYLE}</style>
</head>
<body>
<main>
${parts.body}
</main>
<script type="application/json" id="strings">${strings}</script>
<script nonce="${nonce}" src="${scriptUri.toString()}"></script>
</body>
</html>`;
}
