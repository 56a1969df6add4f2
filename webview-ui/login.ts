/**
 * Login webview: receiver, account and passphrase for a send, and the fingerprint
 * confirmation for a receiver seen for the first time.
 *
 * Secrets are read from the fields only when the form is submitted, are never passed
 * to `setState`, and the fields are cleared right after the submit message is posted.
 */
import {
  estimatePassphraseStrength,
  LoginHostMessage,
  LoginViewMessage,
  MIN_PASSPHRASE_LENGTH,
  parseLoginHostMessage,
} from '../src/views/messages';
import { Button, byId, CheckBox, clearErrors, focusField, setStatus, showFieldError, t, TextField, vscode } from './common';

/** Non-secret fields kept across a reload of the webview. */
interface SavedState {
  receiver: string;
  username: string;
}

const receiver = byId<TextField>('receiver');
const username = byId<TextField>('username');
const password = byId<TextField>('password');
const rememberPassword = byId<CheckBox>('remember-password');
const passphrase = byId<TextField>('passphrase');
const passphraseConfirm = byId<TextField>('passphrase-confirm');
const strength = byId('passphrase-strength');
const sendButton = byId<Button>('send-button');
const cancelButton = byId<Button>('cancel-button');
const fingerprintArea = byId('fingerprint-area');
const changedArea = byId('fingerprint-changed');
const generalError = byId('general-error');

let passwordRemembered = false;
let receiverLocked = false;

function post(message: LoginViewMessage): void {
  vscode.postMessage(message);
}

function saveState(): void {
  const state: SavedState = { receiver: receiver.value, username: username.value };
  vscode.setState(state);
}

function setFormDisabled(disabled: boolean): void {
  for (const field of [username, password, passphrase, passphraseConfirm]) {
    field.disabled = disabled;
  }
  receiver.disabled = disabled || receiverLocked;
  rememberPassword.disabled = disabled;
  sendButton.disabled = disabled;
}

function clearSecrets(): void {
  password.value = '';
  passphrase.value = '';
  passphraseConfirm.value = '';
  updateStrength();
}

function updateStrength(): void {
  const level = estimatePassphraseStrength(passphrase.value);
  strength.className = level === 'empty' ? '' : `strength-${level}`;
  strength.textContent = level === 'empty' ? t('strengthHint', MIN_PASSPHRASE_LENGTH) : t(`strength.${level}`);
}

/** Checks the form in the page for quick feedback; the extension checks everything again. */
function validate(): boolean {
  let valid = true;
  if (receiver.value.trim() === '') {
    showFieldError('receiver', t('receiverMissing'));
    valid = false;
  }
  if (username.value.trim() === '') {
    showFieldError('username', t('usernameMissing'));
    valid = false;
  }
  if (password.value === '' && !passwordRemembered) {
    showFieldError('password', t('passwordMissing'));
    valid = false;
  }
  if (passphrase.value.length < MIN_PASSPHRASE_LENGTH) {
    showFieldError('passphrase', t('passphraseTooShort', MIN_PASSPHRASE_LENGTH));
    valid = false;
  } else if (passphrase.value !== passphraseConfirm.value) {
    showFieldError('passphrase-confirm', t('passphraseMismatch'));
    valid = false;
  }
  return valid;
}

function submit(): void {
  clearErrors();
  fingerprintArea.hidden = true;
  changedArea.hidden = true;
  if (!validate()) {
    return;
  }

  post({
    type: 'submit',
    receiver: receiver.value.trim(),
    username: username.value.trim(),
    password: password.value,
    passphrase: passphrase.value,
    passphraseConfirm: passphraseConfirm.value,
    rememberPassword: rememberPassword.checked,
  });
  clearSecrets();
  setFormDisabled(true);
  setStatus(t('connecting'));
}

/** Returns the id of the first field the user still has to fill in. */
function firstEmptyField(): string {
  if (receiver.value === '') {
    return 'receiver';
  }
  if (username.value === '') {
    return 'username';
  }
  return 'password';
}

/** Maps the extension's field names to element ids. */
function fieldId(field: string): string {
  return field === 'passphraseConfirm' ? 'passphrase-confirm' : field;
}

function handle(message: LoginHostMessage): void {
  switch (message.type) {
    case 'init': {
      const saved = vscode.getState() as Partial<SavedState> | undefined;
      receiver.value = saved?.receiver || message.receiver;
      username.value = saved?.username || message.username;
      receiverLocked = message.receiverLocked;
      receiver.disabled = receiverLocked;
      passwordRemembered = message.passwordRemembered;
      password.setAttribute('placeholder', passwordRemembered ? t('passwordRememberedPlaceholder') : '');
      rememberPassword.checked = passwordRemembered;
      const list = byId('file-list');
      list.replaceChildren(
        ...message.files.map((name) => {
          const item = document.createElement('li');
          item.textContent = name;
          return item;
        }),
      );
      focusField(firstEmptyField());
      return;
    }
    case 'busy':
      setFormDisabled(true);
      setStatus(message.text);
      return;
    case 'error':
      setFormDisabled(false);
      setStatus('');
      if (message.field === 'general') {
        generalError.textContent = message.text;
        generalError.scrollIntoView({ block: 'nearest' });
      } else {
        showFieldError(fieldId(message.field), message.text);
        focusField(fieldId(message.field));
      }
      return;
    case 'confirmFingerprint':
      setStatus('');
      byId('fingerprint-address').textContent = message.address;
      byId('fingerprint-value').textContent = message.fingerprint;
      fingerprintArea.hidden = false;
      fingerprintArea.scrollIntoView({ block: 'nearest' });
      focusField('fingerprint-accept');
      return;
    case 'fingerprintChanged':
      setStatus('');
      setFormDisabled(false);
      byId('fingerprint-changed-text').textContent = message.text;
      changedArea.hidden = false;
      changedArea.scrollIntoView({ block: 'nearest' });
      return;
  }
}

function answerFingerprint(accepted: boolean): void {
  fingerprintArea.hidden = true;
  post({ type: 'fingerprintAnswer', accepted });
  if (accepted) {
    setStatus(t('connecting'));
  }
}

window.addEventListener('message', (event: MessageEvent) => {
  const message = parseLoginHostMessage(event.data);
  if (message) {
    handle(message);
  }
});

sendButton.addEventListener('click', submit);
cancelButton.addEventListener('click', () => post({ type: 'cancel' }));
byId('fingerprint-accept').addEventListener('click', () => answerFingerprint(true));
byId('fingerprint-reject').addEventListener('click', () => answerFingerprint(false));
passphrase.addEventListener('input', updateStrength);
receiver.addEventListener('input', saveState);
username.addEventListener('input', saveState);
document.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !sendButton.disabled && fingerprintArea.hidden) {
    event.preventDefault();
    submit();
  }
});

updateStrength();
post({ type: 'ready' });
