/**
 * The packaged extension in a real workbench: it is installed, its view
 * container is in the activity bar with both views, and the Explorer's context
 * menu offers its commands.
 */
import * as assert from 'node:assert/strict';
import { journey, useSession } from './harness';
import { command, viewContainer } from './manifest';

const RECEIVED_FILES_VIEW = 'secureFileTransfer.receivedFiles';
const RECEIVERS_VIEW = 'secureFileTransfer.receivers';

const session = useSession({
  files: {
    'notes.txt': 'A short text file to send.\n',
    'reports/summary.csv': 'month,files\n2025-01,12\n',
  },
});

journey('activity bar shows the view container', session, async ({ workbench }) => {
  const item = workbench.activityBarItem();

  assert.equal(await item.getAttribute('aria-label'), viewContainer().title);

  await workbench.openViewContainer();
  const received = await workbench.viewPane(RECEIVED_FILES_VIEW);
  const receivers = await workbench.viewPane(RECEIVERS_VIEW);

  assert.equal(await received.isVisible(), true);
  assert.equal(await receivers.isVisible(), true);
});

journey('explorer menu offers Send Securely', session, async ({ workbench, page }) => {
  const sendTitle = command('secureFileTransfer.send').title;

  const fileItems = await workbench.openContextMenu('notes.txt');
  await page.keyboard.press('Escape');
  const nestedItems = await workbench.openContextMenu('reports/summary.csv');
  await page.keyboard.press('Escape');

  assert.ok(fileItems.includes(sendTitle), `"${sendTitle}" missing from the menu: ${fileItems.join(', ')}`);
  assert.ok(nestedItems.includes(sendTitle), `"${sendTitle}" missing from the menu: ${nestedItems.join(', ')}`);
});
