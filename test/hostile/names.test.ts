/**
 * Hostile names through the real receiver: traversal, absolute, drive-letter and UNC paths,
 * NUL and control characters, Windows device names and reserved characters, trailing dots
 * and spaces, long CJK names, bidi overrides, NFC and NFD forms of one name, empty names.
 *
 * Every name is either rejected with NAME_INVALID or stored under a generated file name
 * inside the store, with a safe display name, without overwriting another file. Each
 * stored file is then exported to a ZIP, and 7-Zip must extract it inside its output folder
 * to the bytes that were sent.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportEntryToZip } from '../../src/transfer/export-entry';
import { sendFiles } from '../../src/transfer/sender';
import { HostileReceiver, PASSPHRASE, RawClient, listFiles, receiverKeys, sendOptions, sha256, startReceiver, tempDir } from './receiver-harness';
import { hasControlOrBidi, unsafeSegmentReasons } from './safe-name';

const ZIP_PASSWORD = 'hostile-names-zip-password-41be';

/** [what, name, path, expected]. For a lone file the protocol sends the same text as name and path. */
type NameCase = [string, string, string, 'reject' | 'store'];

const lone = (what: string, name: string, expected: 'reject' | 'store' = 'store'): NameCase => [what, name, name, expected];

const CASES: NameCase[] = [
  lone('parent segment', '../escape.txt', 'reject'),
  ['parent segments deep in a folder', 'x', 'folder/../../x', 'reject'],
  lone('bare parent segment', '..', 'reject'),
  lone('backslash parent segments', '..\\..\\windows\\win.ini', 'reject'),
  lone('absolute POSIX path', '/etc/passwd', 'reject'),
  lone('absolute backslash path', '\\etc\\passwd', 'reject'),
  lone('drive-letter path', 'C:\\Windows\\System32\\evil.dll', 'reject'),
  lone('drive-relative path', 'c:relative.txt', 'reject'),
  lone('drive letter with a slash', 'Z:/x.txt', 'reject'),
  lone('UNC path', '\\\\server\\share\\x.txt', 'reject'),
  lone('UNC path with slashes', '//server/share/x.txt', 'reject'),
  lone('Win32 device namespace path', '\\\\?\\C:\\x.txt', 'reject'),
  lone('parent segment hidden by a bidi override', '\u202e../x.txt', 'reject'),
  lone('parent segment hidden by a NUL', '.\u0000./x.txt', 'reject'),
  ['traversal in the name only', '../../name.txt', 'folder/name.txt', 'reject'],
  lone('65 path segments', `${'d/'.repeat(65)}x.txt`, 'reject'),
  lone('device name CON', 'CON'),
  lone('device name with an extension', 'nul.txt'),
  lone('device name with two extensions', 'COM1.tar.gz'),
  lone('device name with a superscript digit', 'LPT¹'),
  lone('device name before a space and a dot', 'con .txt'),
  ['device name as a folder', 'file.txt', 'AUX/file.txt', 'store'],
  lone('Windows reserved characters', 'a<b>c:d"e|f?g*.txt'),
  lone('NTFS alternate data stream', 'file.txt::$DATA'),
  lone('trailing dots', 'trailing dots...'),
  lone('trailing spaces', 'trailing spaces   '),
  ['trailing dot and space in a folder', 'file. . ', 'dir. /file. . ', 'store'],
  lone('only dots', '...'),
  lone('only a space', ' '),
  lone('NUL byte', 'nul\u0000byte.txt'),
  lone('C0 controls and an escape sequence', 'ctrl\u0001\u0007\u001b[31mred.txt'),
  lone('DEL and C1 controls', 'del\u007f and c1\u0085\u009b.txt'),
  lone('newline', 'new\nline.txt'),
  lone('right-to-left override', 'invoice\u202etxt.exe'),
  lone('bidi isolates', 'isolate\u2066evil\u2069.pdf'),
  lone('direction marks', 'marks\u200f\u200e\u061c.txt'),
  lone('300-byte CJK name', `${'報'.repeat(100)}.txt`),
  ['300-byte CJK folder', 'inner.txt', `${'文'.repeat(100)}/inner.txt`, 'store'],
  lone('280-byte emoji name', '😀'.repeat(70)),
  lone('one letter with 300 combining marks', `e${'\u0301'.repeat(300)}.txt`),
  lone('lone surrogate', '\ud800lone.txt'),
  lone('NFC form', 'café.txt'),
  lone('NFD form of the same name', 'cafe\u0301.txt'),
  lone('empty name', ''),
  ['empty name in a folder', '', 'folder//', 'store'],
  lone('dot segments around a real path', './folder/./sub/deep.txt'),
  lone('backslash separators', 'win\\style\\path.txt'),
  lone('same name again, first', 'duplicate.txt'),
  lone('same name again, second', 'duplicate.txt'),
];

let parent: string;
let target: HostileReceiver;
let exportsDir: string;
let privateKey: crypto.KeyObject;

before(async () => {
  parent = await tempDir('names');
  exportsDir = await tempDir('names-export');
  target = await startReceiver({ storeDir: path.join(parent, 'store') });
  privateKey = crypto.createPrivateKey((await receiverKeys()).envelopePrivateKeyPem);
});

after(async () => {
  await target.stop();
  await fs.rm(parent, { recursive: true, force: true });
  await fs.rm(exportsDir, { recursive: true, force: true });
});

/** Checks the display name and every path segment of each entry, and the log lines. */
function assertSafeEntries(): void {
  for (const entry of target.store.list()) {
    assert.deepEqual(unsafeSegmentReasons(entry.displayName), [], `display name ${JSON.stringify(entry.displayName)}`);
    if (entry.relativePath !== '') {
      for (const segment of entry.relativePath.split('/')) {
        assert.deepEqual(unsafeSegmentReasons(segment), [], `segment ${JSON.stringify(segment)} of ${JSON.stringify(entry.relativePath)}`);
      }
    }
  }
  for (const line of target.log) {
    assert.ok(!hasControlOrBidi(line), `a log line holds a control or bidi character: ${JSON.stringify(line)}`);
  }
}

/** Exports `entryId` to a ZIP, extracts it with 7-Zip and returns the extracted files. */
async function exportAndExtract(entryId: string, label: string): Promise<Array<{ file: string; bytes: Buffer }>> {
  const zip = path.join(exportsDir, `${entryId}.zip`);
  const out = path.join(exportsDir, entryId);
  await exportEntryToZip(target.store, entryId, { outPath: zip, passphrase: PASSPHRASE, privateKey, zipPassword: ZIP_PASSWORD });
  const result = spawnSync('7z', ['x', `-p${ZIP_PASSWORD}`, `-o${out}`, '-y', zip], { encoding: 'utf8' });
  assert.equal(result.status, 0, `${label}: 7z failed: ${result.stdout}${result.stderr}`);
  const files = await listFiles(out);
  for (const file of files) {
    assert.ok(!path.relative(out, file).startsWith('..'), `${label}: 7z wrote ${file} outside ${out}`);
  }
  return Promise.all(files.map(async (file) => ({ file, bytes: await fs.readFile(file) })));
}

describe('hostile names', () => {
  test(`${CASES.length} hostile names through the raw protocol`, { timeout: 180_000 }, async () => {
    assert.ok(CASES.length >= 40);
    const client = await RawClient.connect(target.port);
    const login = await client.login();
    assert.equal(login.type, 'login-ok');
    const publicKey = (login as { publicKey: string }).publicKey;

    const stored = new Map<string, { label: string; plaintext: Buffer; envelopeSha256: string }>();
    for (const [index, [what, name, relativePath, expected]] of CASES.entries()) {
      const label = `${what} ${JSON.stringify([name, relativePath]).slice(0, 100)}`;
      const plaintext = Buffer.from(`case ${index}: ${label}\n`);
      const { answer, envelopeSha256 } = await client.upload(publicKey, name, relativePath, plaintext);
      if (expected === 'reject') {
        assert.equal(answer.type, 'reject', `${label}: ${JSON.stringify(answer)}`);
        assert.equal((answer as { code: string }).code, 'NAME_INVALID', label);
      } else {
        assert.equal(answer.type, 'confirmed', `${label}: ${JSON.stringify(answer)}`);
        stored.set((answer as { entryId: string }).entryId, { label, plaintext, envelopeSha256 });
      }
    }
    client.close();

    // Nothing outside the store; inside it, only generated names.
    const written = await listFiles(parent);
    for (const file of written) {
      assert.ok(file.startsWith(target.storeDir + path.sep) || file === target.logFile, `a file was written outside the store: ${file}`);
    }
    const envelopeFiles = await fs.readdir(path.join(target.storeDir, 'files'));
    assert.equal(envelopeFiles.length, 2 * stored.size, 'one envelope and one sidecar per stored file');
    for (const file of envelopeFiles) assert.match(file, /^[0-9a-f]{32}\.(sft|json)$/);
    assert.deepEqual(await fs.readdir(path.join(target.storeDir, 'partial')), [], 'no partial upload is left');

    // None overwrote another: one entry per confirmed upload, each with its own envelope.
    const entries = target.store.list();
    assert.equal(entries.length, stored.size);
    for (const entry of entries) {
      const expected = stored.get(entry.id);
      assert.ok(expected, `entry ${entry.id} was never confirmed`);
      assert.equal(entry.sha256, expected.envelopeSha256, `${expected.label}: the stored envelope differs from the one sent`);
    }
    assertSafeEntries();

    // Export and extraction stay inside the output folder and give back the bytes sent.
    for (const [entryId, { label, plaintext }] of stored) {
      const files = await exportAndExtract(entryId, label);
      assert.equal(files.length, 1, `${label}: ${files.map((file) => file.file).join(', ')}`);
      assert.equal(sha256(files[0].bytes), sha256(plaintext), `${label}: the extracted bytes differ`);
    }
  });

  test('hostile file names through the real sender', { timeout: 120_000 }, async () => {
    // Names a Linux file system can hold; the sender reads them from disk as a user would send them.
    const names = [
      'CON', 'nul.txt', 'COM1.tar.gz', 'a<b>c:d"e|f?g*.txt', 'trailing. . ', ' leading space.txt', 'ctrl\u0001\u001b[2J.txt',
      'new\nline.txt', 'invoice\u202etxt.exe', 'café.txt', 'cafe\u0301.txt', `${'漢'.repeat(85)}`, '-rf', '.hidden', 'back\\slash.txt',
    ];
    const source = path.join(await tempDir('names-source'), 'sent folder');
    const expected = new Map<string, string>();
    for (const [index, name] of names.entries()) {
      const bytes = Buffer.from(`sender case ${index}: ${JSON.stringify(name)}\n`);
      await fs.mkdir(path.join(source, 'sub. '), { recursive: true });
      await fs.writeFile(path.join(source, index % 2 === 0 ? name : path.join('sub. ', name)), bytes);
      expected.set(sha256(bytes), name);
    }
    const before = target.store.list().length;

    const result = await sendFiles(await sendOptions(target.port, [source]));
    const delivered = result.files.filter((file) => file.status === 'delivered');
    assert.equal(delivered.length, names.length, JSON.stringify(result.files.filter((file) => file.status !== 'delivered')));
    assert.equal(target.store.list().length, before + names.length, 'every file has its own entry');
    assertSafeEntries();

    const seen = new Set<string>();
    for (const file of delivered) {
      const extracted = await exportAndExtract((file as { entryId: string }).entryId, JSON.stringify(file.file));
      assert.equal(extracted.length, 1);
      const digest = sha256(extracted[0].bytes);
      assert.ok(expected.has(digest), `entry ${(file as { entryId: string }).entryId} holds bytes that were never sent`);
      seen.add(digest);
    }
    assert.equal(seen.size, names.length, 'each file came back exactly once');
    await fs.rm(path.dirname(source), { recursive: true, force: true });
  });
});
