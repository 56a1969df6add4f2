/**
 * Validators of the messages between the extension and its webviews, and the passphrase
 * strength hint. Both sides drop any message that fails its validator.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  estimatePassphraseStrength,
  MAX_FIELD_LENGTH,
  parseDownloadHostMessage,
  parseDownloadViewMessage,
  parseLoginHostMessage,
  parseLoginViewMessage,
} from '../../src/views/messages';

const validLoginSubmit = {
  type: 'submit',
  receiver: 'sft://127.0.0.1:7443',
  username: 'alice',
  password: 'secret',
  passphrase: 'a long passphrase',
  passphraseConfirm: 'a long passphrase',
  rememberPassword: false,
};

test('login submit accepted when well-formed', () => {
  assert.deepEqual(parseLoginViewMessage(validLoginSubmit), validLoginSubmit);
});

test('login submit drops unknown fields', () => {
  const parsed = parseLoginViewMessage({ ...validLoginSubmit, extra: 'ignored' });

  assert.ok(parsed);
  assert.equal('extra' in parsed, false);
});

test('login submit rejected when malformed', () => {
  const cases: unknown[] = [
    null,
    'submit',
    [],
    { type: 'unknown' },
    { ...validLoginSubmit, password: 42 },
    { ...validLoginSubmit, rememberPassword: 'yes' },
    { ...validLoginSubmit, receiver: undefined },
    { ...validLoginSubmit, passphrase: 'x'.repeat(MAX_FIELD_LENGTH + 1) },
  ];
  for (const value of cases) {
    assert.equal(parseLoginViewMessage(value), undefined, `accepted ${JSON.stringify(value)?.slice(0, 80)}`);
  }
});

test('fingerprint answer needs a boolean', () => {
  assert.deepEqual(parseLoginViewMessage({ type: 'fingerprintAnswer', accepted: true }), { type: 'fingerprintAnswer', accepted: true });
  assert.equal(parseLoginViewMessage({ type: 'fingerprintAnswer', accepted: 'true' }), undefined);
});

test('login host error needs a known field', () => {
  assert.deepEqual(parseLoginHostMessage({ type: 'error', field: 'password', text: 'wrong' }), { type: 'error', field: 'password', text: 'wrong' });
  assert.equal(parseLoginHostMessage({ type: 'error', field: 'innerHTML', text: 'x' }), undefined);
});

test('login init needs a list of names', () => {
  const init = { type: 'init', receiver: '', username: '', files: ['a.txt'], passwordRemembered: false, receiverLocked: false };

  assert.deepEqual(parseLoginHostMessage(init), init);
  assert.equal(parseLoginHostMessage({ ...init, files: 'a.txt' }), undefined);
  assert.equal(parseLoginHostMessage({ ...init, files: [1] }), undefined);
});

test('download submit accepted when well-formed', () => {
  const submit = { type: 'submit', passphrase: 'p', zipPassword: 'z', zipPasswordConfirm: 'z', usePassphrase: false };

  assert.deepEqual(parseDownloadViewMessage(submit), submit);
  assert.equal(parseDownloadViewMessage({ ...submit, usePassphrase: 1 }), undefined);
});

test('download error checks attempts left', () => {
  assert.deepEqual(parseDownloadHostMessage({ type: 'error', field: 'passphrase', text: 'wrong', attemptsLeft: 4 }), {
    type: 'error',
    field: 'passphrase',
    text: 'wrong',
    attemptsLeft: 4,
  });
  assert.equal(parseDownloadHostMessage({ type: 'error', field: 'passphrase', text: 'wrong', attemptsLeft: -1 }), undefined);
  assert.equal(parseDownloadHostMessage({ type: 'error', field: 'passphrase', text: 'wrong', attemptsLeft: 1.5 }), undefined);
});

test('passphrase strength grows with length and variety', () => {
  assert.equal(estimatePassphraseStrength(''), 'empty');
  assert.equal(estimatePassphraseStrength('abc'), 'weak');
  assert.equal(estimatePassphraseStrength('aaaaaaaaaaaaaaaaaaaa'), 'weak');
  assert.equal(estimatePassphraseStrength('password12'), 'fair');
  assert.equal(estimatePassphraseStrength('correct horse battery staple'), 'strong');
});
