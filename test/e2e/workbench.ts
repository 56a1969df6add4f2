/**
 * Drives the VS Code workbench in a Playwright page the way a person does:
 * command palette, Explorer, context menus, tree views, webviews,
 * notifications and the status bar. Selectors are those of VS Code 1.139
 * (code-server 4.139.1).
 */
import type { FrameLocator, Locator, Page } from 'playwright-core';
import { EXTENSION_ID, viewContainer, viewName } from './manifest';
import { DEFAULT_WAIT_MS, exactText, waitUntil } from './wait';

/** One row of a tree view as the workbench renders it. */
export interface TreeRow {
  label: string;
  description: string;
  /** 1 for top-level rows. */
  level: number;
  /** True or false for rows with children, undefined for leaves. */
  expanded: boolean | undefined;
  /** The row's accessible label: the tree item's accessibilityInformation, else its label. */
  ariaLabel: string;
}

/** Milliseconds a workbench may take to load, with its extensions scanned. */
const WORKBENCH_LOAD_MS = 60_000;

// VS Code derives the activity bar entry's class from the view container id.
function activityBarLabelSelector(): string {
  return `a.action-label[class*="activity-workbench-view-extension-${viewContainer().id}-"]`;
}

export class Workbench {
  constructor(
    readonly page: Page,
    readonly baseUrl: string,
  ) {}

  /**
   * Opens `folder` in the workbench and waits until the extension's view
   * container is in the activity bar: only then are its menus and commands
   * registered in the workbench.
   */
  async openWorkbench(folder: string): Promise<void> {
    await this.page.goto(`${this.baseUrl}?folder=${encodeURIComponent(folder)}`);
    await this.page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: WORKBENCH_LOAD_MS });
    await this.activityBarItem().waitFor({ state: 'visible', timeout: WORKBENCH_LOAD_MS });
  }

  /** Reloads the window, as *Developer: Reload Window* does, and waits as openWorkbench() does. */
  async reloadWindow(): Promise<void> {
    await this.page.reload();
    await this.page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: WORKBENCH_LOAD_MS });
    await this.activityBarItem().waitFor({ state: 'visible', timeout: WORKBENCH_LOAD_MS });
  }

  /**
   * Completes an open or save dialog. In the browser VS Code shows its own
   * dialog in the quick input box, which takes a path typed in full.
   */
  async completeFileDialog(filePath: string): Promise<void> {
    const widget = this.page.locator('.quick-input-widget');
    const input = widget.locator('input.input').first();
    const progress = widget.locator('.quick-input-progress');
    const rows = widget.locator('.quick-input-list .monaco-list-row');
    const isIdle = async () => !((await progress.getAttribute('class')) ?? '').includes('active') && (await rows.count()) > 0;

    // The dialog fills in its starting folder a moment after it appears, and
    // would overwrite a path typed before that.
    await input.waitFor({ state: 'visible' });
    await waitUntil(async () => (await input.inputValue()) !== '' && (await isIdle()), {
      message: 'the file dialog to show its starting folder',
    });

    // The dialog follows the path key by key and ignores a value set at once.
    await input.fill('');
    await input.pressSequentially(filePath);

    // Enter counts only once the dialog has listed the typed path's folder, so
    // it is pressed again until the dialog closes.
    await waitUntil(async () => {
      if ((await input.inputValue()) !== filePath || !(await isIdle())) return false;
      await input.press('Enter');
      return widget.waitFor({ state: 'hidden', timeout: 2000 }).then(() => true, () => false);
    }, { message: `the file dialog to accept ${filePath}` });
  }

  /** Returns the activity bar entry of the extension's view container. */
  activityBarItem(): Locator {
    return this.page.locator(`.part.activitybar ${activityBarLabelSelector()}`);
  }

  /** Shows the extension's view container in the side bar. */
  async openViewContainer(): Promise<void> {
    const tab = this.page.locator(`.part.activitybar li.action-item:has(${activityBarLabelSelector()})`);
    if ((await tab.getAttribute('aria-selected')) !== 'true') {
      await tab.click();
    }
    await this.page.locator('.part.sidebar .composite.title', { hasText: viewContainer().title }).waitFor();
  }

  /**
   * Runs a command through the command palette (F1), by the title the palette
   * shows, such as "Secure File Transfer: Start Receiver" (see paletteTitle()).
   */
  async runCommand(title: string): Promise<void> {
    await this.page.keyboard.press('F1');
    const widget = this.page.locator('.quick-input-widget');
    const input = widget.locator('input.input').first();
    await input.waitFor({ state: 'visible' });

    await input.fill(`>${title}`);
    const row = widget
      .locator('.quick-input-list .monaco-list-row')
      .filter({ has: this.page.locator('.label-name', { hasText: exactText(title) }) })
      .first();
    await row.waitFor({ state: 'visible' });
    await row.click();

    // The palette closes, unless the command opens its own quick input (an
    // input box, a quick pick or a file dialog) in the same widget.
    await waitUntil(async () => !(await widget.isVisible()) || !(await input.inputValue()).startsWith('>'), {
      message: `the command palette to close after "${title}"`,
    });
  }

  /** Shows the Explorer in the side bar. */
  async showExplorer(): Promise<void> {
    const explorer = this.page.locator('.explorer-folders-view');
    if (await explorer.isVisible()) return;

    await this.page.locator('.part.activitybar a.action-label.codicon-explorer-view-icon').click();
    await explorer.waitFor({ state: 'visible' });
  }

  /**
   * Returns the Explorer row of a file or folder, by its path relative to the
   * workspace folder ("notes.txt", "reports/summary.csv"). Folders on the way
   * are expanded.
   */
  async explorerRow(relativePath: string): Promise<Locator> {
    await this.showExplorer();
    const names = relativePath.split('/').filter((name) => name.length > 0);
    const rows = this.page.locator('.explorer-folders-view .monaco-list-row');
    let row: Locator | undefined;

    for (let level = 1; level <= names.length; level++) {
      row = rows.and(this.page.locator(`[aria-level="${level}"][aria-label=${JSON.stringify(names[level - 1])}]`));
      await row.waitFor({ state: 'visible' });
      if (level < names.length && (await row.getAttribute('aria-expanded')) === 'false') {
        await row.click();
        await this.page.locator(`.explorer-folders-view .monaco-list-row[aria-level="${level + 1}"]`).first().waitFor();
      }
    }
    if (!row) {
      throw new Error('explorerRow() needs a non-empty path.');
    }
    return row;
  }

  /**
   * Right-clicks one Explorer row, or selects several with Ctrl and
   * right-clicks the last, then chooses `item` in the context menu.
   */
  async contextMenu(rowPaths: string | string[], item: string): Promise<void> {
    await this.openContextMenu(rowPaths);
    await this.clickMenuItem(item);
  }

  /**
   * Opens the Explorer context menu of one or more rows (selected with Ctrl)
   * and returns the labels of its enabled items. Escape closes it.
   */
  async openContextMenu(rowPaths: string | string[]): Promise<string[]> {
    const paths = Array.isArray(rowPaths) ? rowPaths : [rowPaths];
    const rows: Locator[] = [];
    for (const rowPath of paths) rows.push(await this.explorerRow(rowPath));

    await rows[0].click();
    for (const row of rows.slice(1)) {
      await row.click({ modifiers: ['Control'] });
    }
    await rows[rows.length - 1].click({ button: 'right' });

    const labels = this.page.locator('.monaco-menu .action-item:not(.disabled) .action-label');
    await labels.first().waitFor({ state: 'visible' });
    return (await labels.allInnerTexts()).map((label) => label.trim());
  }

  /** Chooses `item` in the context menu that is open. */
  async clickMenuItem(item: string): Promise<void> {
    const entry = this.page
      .locator('.monaco-menu .action-item:not(.disabled)')
      .filter({ has: this.page.locator('.action-label', { hasText: exactText(item) }) })
      .first();
    await entry.waitFor({ state: 'visible' });

    // Right after the menu opens, a click on an item sometimes leaves the menu
    // open without running the item, so the item is clicked until the menu closes.
    await waitUntil(async () => {
      if (await entry.isVisible()) await entry.click({ timeout: 2000 });
      return entry.waitFor({ state: 'hidden', timeout: 1000 }).then(() => true, () => false);
    }, { message: `the context menu to run "${item}"` });
  }

  /**
   * Returns the content frame of the webview that contains `selector`.
   * A webview is an iframe that contains another iframe, #active-frame, with the
   * extension's page.
   */
  async webviewFrame(selector: string, timeout = DEFAULT_WAIT_MS): Promise<FrameLocator> {
    const outerFrames = this.page.locator('iframe.webview.ready');
    return waitUntil(async () => {
      const count = await outerFrames.count();
      for (let i = 0; i < count; i++) {
        const frame = outerFrames.nth(i).contentFrame().locator('#active-frame').contentFrame();
        if ((await frame.locator(selector).count()) > 0) return frame;
      }
      return undefined;
    }, { timeout, message: `a webview containing ${selector}` });
  }

  /** Returns the side bar pane of a view by its id, expanded and visible. */
  async viewPane(viewId: string): Promise<Locator> {
    const title = viewName(viewId);
    const pane = this.page.locator('.part.sidebar .pane').filter({
      has: this.page.locator('.pane-header h3.title', { hasText: exactText(title) }),
    });
    await pane.waitFor({ state: 'visible' });

    const header = pane.locator('.pane-header');
    if ((await header.getAttribute('aria-expanded')) === 'false') {
      await header.click();
    }
    await pane.locator('.pane-body').waitFor({ state: 'visible' });
    return pane;
  }

  /** Reads the visible rows of a tree view, opening its view container first. */
  async readTreeView(viewId: string): Promise<TreeRow[]> {
    await this.openViewContainer();
    const pane = await this.viewPane(viewId);
    return pane.locator('.pane-body .monaco-list-row').evaluateAll((elements) =>
      elements.map((element) => {
        const expanded = element.getAttribute('aria-expanded');
        return {
          label: element.querySelector('.label-name')?.textContent?.trim() ?? '',
          description: element.querySelector('.label-description')?.textContent?.trim() ?? '',
          level: Number(element.getAttribute('aria-level') ?? '1'),
          expanded: expanded === null ? undefined : expanded === 'true',
          ariaLabel: element.getAttribute('aria-label') ?? '',
        };
      }),
    );
  }

  /** Returns the tree row with this label in a view, for clicks and context menus. */
  async treeRow(viewId: string, label: string): Promise<Locator> {
    await this.openViewContainer();
    const pane = await this.viewPane(viewId);
    const row = pane
      .locator('.pane-body .monaco-list-row')
      .filter({ has: this.page.locator('.label-name', { hasText: exactText(label) }) })
      .first();
    await row.waitFor({ state: 'visible' });
    return row;
  }

  /** Returns the text of a view's welcome content, or '' when the view shows rows. */
  async viewWelcomeText(viewId: string): Promise<string> {
    await this.openViewContainer();
    const pane = await this.viewPane(viewId);
    const welcome = pane.locator('.welcome-view-content');
    return (await welcome.count()) > 0 ? (await welcome.innerText()).trim() : '';
  }

  /**
   * Returns the messages of every notification: the toasts on screen and, when
   * `openCenter` is set, those in the notification center (toasts are hidden
   * there after a while or when the smoke-test driver is on).
   */
  async notifications(openCenter = false): Promise<string[]> {
    if (openCenter) {
      const center = this.page.locator('.notifications-center');
      if (!(await center.isVisible())) {
        await this.runCommand('Notifications: Show Notifications');
        await center.waitFor({ state: 'visible' });
      }
    }
    const messages = this.page.locator(
      '.notification-toast-container .notification-list-item-message, .notifications-center .notification-list-item-message',
    );
    const texts = await messages.allInnerTexts();
    return [...new Set(texts.map((text) => text.trim()))];
  }

  /** Waits for a notification whose message matches `pattern` and returns its text. */
  async waitForNotification(pattern: string | RegExp, timeout = DEFAULT_WAIT_MS): Promise<string> {
    const matches = (text: string) => (typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text));
    return waitUntil(async () => (await this.notifications()).find(matches), {
      timeout,
      message: `a notification matching ${pattern}`,
    });
  }

  /**
   * Returns the status bar entry that the extension created with
   * `createStatusBarItem(itemId, ...)`; VS Code prefixes the extension id.
   */
  statusBarEntry(itemId: string): Locator {
    return this.page.locator(`.part.statusbar [id=${JSON.stringify(`${EXTENSION_ID}.${itemId}`)}]`);
  }

  /** Returns the status bar entry whose text matches `text`. */
  statusBarItem(text: string | RegExp): Locator {
    return this.page.locator('.part.statusbar .statusbar-item', { hasText: text }).first();
  }
}
