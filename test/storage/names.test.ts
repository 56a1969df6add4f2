import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { isSftError } from '../../src/errors';
import {
  displayName,
  escapeForLog,
  MAX_PATH_SEGMENTS,
  MAX_RAW_PATH_LENGTH,
  MAX_SEGMENT_BYTES,
  PLACEHOLDER_NAME,
  safeRelativePath,
  safeSegment,
} from '../../src/storage/names';

const cjk300Bytes = '漢'.repeat(100) + '.txt'; // 100 × 3 bytes + 4
const nfc = 'caf\u00e9.txt';
const nfd = 'cafe\u0301.txt';

/** Hostile names that must come out as the given safe segment. */
const mappedNames: Array<[label: string, raw: string, expected: string]> = [
  ['NUL character', 'a\u0000b.txt', 'ab.txt'],
  ['newline', 'line1\nline2.txt', 'line1line2.txt'],
  ['carriage return', 'a\rb', 'ab'],
  ['tab', 'a\tb', 'ab'],
  ['escape sequence', '\u001b[31mred.txt', '[31mred.txt'],
  ['DEL', 'a\u007fb', 'ab'],
  ['C1 control', 'a\u0085b\u009bc', 'abc'],
  ['right-to-left override', 'invoice\u202etxt.exe', 'invoicetxt.exe'],
  ['left-to-right embedding', '\u202aname', 'name'],
  ['pop directional formatting', 'name\u202c', 'name'],
  ['isolates', '\u2066a\u2067b\u2068c\u2069', 'abc'],
  ['direction marks', 'a\u200eb\u200fc\u061cd', 'abcd'],
  ['CON', 'CON', '_CON'],
  ['con lowercase', 'con', '_con'],
  ['CON.txt', 'CON.txt', '_CON.txt'],
  ['NUL.tar.gz', 'NUL.tar.gz', '_NUL.tar.gz'],
  ['PRN', 'prn.log', '_prn.log'],
  ['AUX', 'Aux', '_Aux'],
  ['COM1', 'COM1', '_COM1'],
  ['COM9.txt', 'com9.txt', '_com9.txt'],
  ['LPT1', 'LPT1', '_LPT1'],
  ['LPT9 with extension', 'lpt9.doc', '_lpt9.doc'],
  ['COM superscript one', 'COM\u00b9', '_COM\u00b9'],
  ['reserved with trailing space', 'CON .txt', '_CON .txt'],
  ['reserved with trailing dot', 'nul.', '_nul'],
  ['not reserved: CONSOLE', 'CONSOLE.txt', 'CONSOLE.txt'],
  ['not reserved: COM10', 'COM10', 'COM10'],
  ['less and greater than', '<script>.html', '_script_.html'],
  ['colon (alternate data stream)', 'file.txt:hidden', 'file.txt_hidden'],
  ['double quote', 'say "hi".txt', 'say _hi_.txt'],
  ['pipe', 'a|b', 'a_b'],
  ['question mark and star', 'what?*.txt', 'what__.txt'],
  ['trailing dots', 'name...', 'name'],
  ['trailing spaces', 'name   ', 'name'],
  ['trailing dots and spaces', 'name. . .', 'name'],
  ['only dots', '...', PLACEHOLDER_NAME],
  ['only spaces', '    ', PLACEHOLDER_NAME],
  ['single dot', '.', PLACEHOLDER_NAME],
  ['empty name', '', PLACEHOLDER_NAME],
  ['only control characters', '\u0001\u0002\u0003', PLACEHOLDER_NAME],
  ['only bidi characters', '\u202e\u202d', PLACEHOLDER_NAME],
  ['NFD becomes NFC', nfd, nfc],
  ['NFC stays NFC', nfc, nfc],
  ['lone high surrogate', 'a\ud800b', 'a\ufffdb'],
  ['lone low surrogate', 'a\udc00b', 'a\ufffdb'],
  ['hidden file kept', '.bashrc', '.bashrc'],
  ['leading spaces kept', '  lead', '  lead'],
  ['emoji kept', 'party 🎉.png', 'party 🎉.png'],
  ['slash inside a segment', 'a/b', 'a_b'],
  ['backslash inside a segment', 'a\\b', 'a_b'],
];

describe('safeSegment', () => {
  for (const [label, raw, expected] of mappedNames) {
    it(`maps ${label}`, () => {
      assert.equal(safeSegment(raw), expected);
    });
  }

  it('rejects ..', () => {
    assert.throws(() => safeSegment('..'), (error: unknown) => isSftError(error, 'NAME_INVALID'));
  });

  it('rejects .. hidden by control characters', () => {
    assert.throws(() => safeSegment('.\u0000.'), (error: unknown) => isSftError(error, 'NAME_INVALID'));
    assert.throws(() => safeSegment('\u202e..'), (error: unknown) => isSftError(error, 'NAME_INVALID'));
  });

  it('names the value in the error', () => {
    assert.throws(() => safeSegment('..'), (error: unknown) => error instanceof Error && error.message.includes('".."'));
  });

  it('rejects input over the raw length limit', () => {
    assert.throws(() => safeSegment('a'.repeat(MAX_RAW_PATH_LENGTH + 1)), (error: unknown) => isSftError(error, 'NAME_INVALID'));
  });

  it('rejects a non-string', () => {
    assert.throws(() => safeSegment(42 as unknown as string), (error: unknown) => isSftError(error, 'NAME_INVALID'));
  });

  it('never returns an unsafe segment', () => {
    const samples = [...mappedNames.map(([, raw]) => raw), cjk300Bytes, 'x'.repeat(1000), 'CON' + ' '.repeat(300) + 'x'];
    for (const raw of samples) {
      const safe = safeSegment(raw);
      assert.ok(safe.length > 0, `empty result for ${JSON.stringify(raw)}`);
      assert.ok(Buffer.byteLength(safe, 'utf8') <= MAX_SEGMENT_BYTES, `too long for ${JSON.stringify(raw)}`);
      assert.doesNotMatch(safe, /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069<>:"|?*/\\]/, `unsafe character for ${JSON.stringify(raw)}`);
      assert.doesNotMatch(safe, /[. ]$/, `trailing dot or space for ${JSON.stringify(raw)}`);
      assert.notEqual(safe, '..');
      assert.equal(safe, safe.normalize('NFC'));
      assert.doesNotMatch(safe.split('.')[0].trimEnd(), /^(con|prn|aux|nul|com\d|lpt\d)$/i);
    }
  });
});

describe('safeSegment shortening', () => {
  it('shortens a 300-byte CJK name and keeps the extension', () => {
    assert.equal(Buffer.byteLength(cjk300Bytes, 'utf8'), 304);
    const safe = safeSegment(cjk300Bytes);

    assert.ok(Buffer.byteLength(safe, 'utf8') <= MAX_SEGMENT_BYTES);
    assert.ok(safe.endsWith('.txt'));
    assert.equal(safe, '漢'.repeat(83) + '.txt'); // 83 × 3 + 4 = 253 bytes; an 84th would make 256
  });

  it('never splits a code point', () => {
    const name = '😀'.repeat(100) + '.png'; // 4-byte code points
    const safe = safeSegment(name);

    assert.equal(safe, '😀'.repeat(62) + '.png'); // 62 × 4 + 4 = 252 bytes
    assert.doesNotMatch(safe, /\ufffd/);
    assert.equal(Buffer.from(safe, 'utf8').toString('utf8'), safe);
  });

  it('keeps combining sequences whole', () => {
    const name = 'e\u0301'.repeat(200); // NFC makes each one é (2 bytes)
    assert.equal(safeSegment(name), '\u00e9'.repeat(127));

    const unComposable = 'q\u0301'.repeat(100); // no precomposed form: 1 + 2 bytes per grapheme
    const safe = safeSegment(unComposable);
    assert.equal(safe, 'q\u0301'.repeat(85));
  });

  it('cuts a single huge grapheme between code points', () => {
    const name = 'a' + '\u0301'.repeat(300);
    const safe = safeSegment(name);

    assert.ok(Buffer.byteLength(safe, 'utf8') <= MAX_SEGMENT_BYTES);
    assert.ok(safe.startsWith('\u00e1')); // NFC composes a + U+0301
  });

  it('drops an extension longer than 32 bytes', () => {
    const name = 'a.' + 'b'.repeat(300);
    const safe = safeSegment(name);

    assert.equal(Buffer.byteLength(safe, 'utf8'), MAX_SEGMENT_BYTES);
    assert.ok(safe.startsWith('a.bbb'));
  });

  it('keeps an extension up to 32 bytes', () => {
    const extension = '.' + 'e'.repeat(31);
    const safe = safeSegment('n'.repeat(400) + extension);

    assert.ok(safe.endsWith(extension));
    assert.equal(Buffer.byteLength(safe, 'utf8'), MAX_SEGMENT_BYTES);
  });

  it('strips trailing spaces exposed by the cut', () => {
    const safe = safeSegment('CON' + ' '.repeat(300) + 'x');
    assert.equal(safe, '_CON');
  });

  it('leaves a 255-byte name alone', () => {
    const name = 'a'.repeat(251) + '.txt';
    assert.equal(safeSegment(name), name);
  });
});

describe('safeRelativePath', () => {
  const rejected: Array<[label: string, raw: string]> = [
    ['.. alone', '..'],
    ['leading ..', '../etc/passwd'],
    ['inner ..', 'a/../../b'],
    ['trailing ..', 'a/b/..'],
    ['backslash ..', 'a\\..\\..\\windows'],
    ['mixed separators ..', 'a/..\\b'],
    ['.. behind NUL', 'a/.\u0000./b'],
    ['POSIX absolute', '/etc/passwd'],
    ['backslash absolute', '\\Windows\\System32'],
    ['drive letter with backslash', 'C:\\Windows\\win.ini'],
    ['drive letter with slash', 'c:/x'],
    ['drive-relative', 'C:x.txt'],
    ['bare drive', 'D:'],
    ['UNC path', '\\\\server\\share\\x'],
    ['UNC with slashes', '//server/share/x'],
    ['device path', '\\\\?\\C:\\x'],
    ['absolute behind bidi', '\u202e/etc/passwd'],
  ];

  for (const [label, raw] of rejected) {
    it(`rejects ${label}`, () => {
      assert.throws(
        () => safeRelativePath(raw),
        (error: unknown) => isSftError(error, 'NAME_INVALID') && error.message.includes('Invalid name'),
      );
    });
  }

  it('splits on both separators', () => {
    assert.deepEqual(safeRelativePath('photos\\2024/a.jpg'), ['photos', '2024', 'a.jpg']);
  });

  it('drops empty and dot segments', () => {
    assert.deepEqual(safeRelativePath('a//./b/'), ['a', 'b']);
  });

  it('returns no segments for an empty path', () => {
    assert.deepEqual(safeRelativePath(''), []);
  });

  it('maps each segment', () => {
    assert.deepEqual(safeRelativePath('CON/a?b/c. /\u202ed'), ['_CON', 'a_b', 'c', 'd']);
  });

  it('keeps a colon after the first segment', () => {
    assert.deepEqual(safeRelativePath('dir/C:x'), ['dir', 'C_x']);
  });

  it('rejects more segments than the limit', () => {
    const deep = Array.from({ length: MAX_PATH_SEGMENTS + 1 }, () => 'd').join('/');
    assert.throws(() => safeRelativePath(deep), (error: unknown) => isSftError(error, 'NAME_INVALID'));
    assert.equal(safeRelativePath(Array.from({ length: MAX_PATH_SEGMENTS }, () => 'd').join('/')).length, MAX_PATH_SEGMENTS);
  });

  it('maps NFD and NFC forms to one path', () => {
    assert.deepEqual(safeRelativePath(`dir/${nfd}`), safeRelativePath(`dir/${nfc}`));
  });
});

describe('displayName', () => {
  it('returns the last safe segment', () => {
    assert.equal(displayName('photos/2024/a?.jpg'), 'a_.jpg');
  });

  it('returns the placeholder for an empty name', () => {
    assert.equal(displayName(''), PLACEHOLDER_NAME);
    assert.equal(displayName('./.'), PLACEHOLDER_NAME);
  });

  it('rejects traversal and absolute names', () => {
    for (const raw of ['../x', '/etc/passwd', 'C:\\x', '\\\\srv\\share']) {
      assert.throws(() => displayName(raw), (error: unknown) => isSftError(error, 'NAME_INVALID'), raw);
    }
  });

  it('removes a right-to-left override', () => {
    assert.equal(displayName('report\u202efdp.exe'), 'reportfdp.exe');
  });
});

describe('escapeForLog', () => {
  it('escapes control and bidi characters', () => {
    assert.equal(escapeForLog('a\nb\u202ec\u0000'), 'a\\u{a}b\\u{202e}c\\u{0}');
  });

  it('escapes backslashes so escapes cannot be forged', () => {
    assert.equal(escapeForLog('\\u{a}'), '\\\\u{a}');
  });

  it('cuts long values', () => {
    const escaped = escapeForLog('x'.repeat(500), 10);
    assert.equal(escaped, 'x'.repeat(10) + '…');
  });
});
