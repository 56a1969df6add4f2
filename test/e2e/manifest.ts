/**
 * The extension's contributions as a person sees them: package.json with its
 * `%key%` placeholders replaced from package.nls.json. Journeys name commands
 * and views by id and get the titles the workbench shows.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from './paths';

export const EXTENSION_ID = 'secure-file-transfer.secure-file-transfer';

export interface ManifestCommand {
  command: string;
  title: string;
  category?: string;
}

interface RawManifest {
  contributes?: {
    commands?: ManifestCommand[];
    viewsContainers?: { activitybar?: { id: string; title: string }[] };
    views?: Record<string, { id: string; name: string }[]>;
  };
}

function readJson(file: string): unknown {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function loadMessages(): Record<string, string> {
  const file = path.join(REPO_ROOT, 'package.nls.json');
  return fs.existsSync(file) ? (readJson(file) as Record<string, string>) : {};
}

/** Replaces a `%key%` placeholder with its English text; other strings pass through. */
export function localize(value: string): string {
  const match = /^%(.+)%$/.exec(value);
  if (!match) return value;

  const text = loadMessages()[match[1]];
  if (text === undefined) {
    throw new Error(`package.nls.json has no entry "${match[1]}", used in package.json.`);
  }
  return text;
}

function manifest(): RawManifest {
  return readJson(path.join(REPO_ROOT, 'package.json')) as RawManifest;
}

/** Returns the contributed command with this id, with its title and category localized. */
export function command(id: string): ManifestCommand {
  const found = manifest().contributes?.commands?.find((c) => c.command === id);
  if (!found) {
    throw new Error(`package.json contributes no command "${id}".`);
  }
  return {
    command: found.command,
    title: localize(found.title),
    category: found.category === undefined ? undefined : localize(found.category),
  };
}

/** Returns the title the command palette shows for a command: "Category: Title". */
export function paletteTitle(id: string): string {
  const { title, category } = command(id);
  return category ? `${category}: ${title}` : title;
}

/** Returns the extension's activity bar view container: its id and localized title. */
export function viewContainer(): { id: string; title: string } {
  const container = manifest().contributes?.viewsContainers?.activitybar?.[0];
  if (!container) {
    throw new Error('package.json contributes no activity bar view container.');
  }
  return { id: container.id, title: localize(container.title) };
}

/** Returns the localized name of a contributed view. */
export function viewName(viewId: string): string {
  for (const views of Object.values(manifest().contributes?.views ?? {})) {
    const view = views.find((v) => v.id === viewId);
    if (view) return localize(view.name);
  }
  throw new Error(`package.json contributes no view "${viewId}".`);
}
