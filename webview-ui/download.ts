/**
 * Download webview: the sender's passphrase for one received file and the password of
 * the ZIP to write. The save location is chosen afterwards in the editor's save dialog.
 *
 * Secrets are never passed to `setState` and the fields are cleared after each submit.
 */
import { DownloadHostMessage, DownloadViewMessage, parseDownloadHostMessage } from '../src/views/messages';
import { Button, byId, CheckBox, clearErrors, focusField, setStatus, showFieldError, t, TextField, vscode } from './common';

const passphrase = byId<TextField>('passphrase');
const usePassphrase = byId<CheckBox>('use-passphrase');
const zipPassword = byId<TextField>('zip-password');
const zipPasswordConfirm = byId<TextField>('zip-password-confirm');
const zipFields = byId('zip-password-fields');
const downloadButton = byId<Button>('download-button');
const cancelButton = byId<Button>('cancel-button');
const generalError = byId('general-error');
const attemptsLeft = byId('attempts-left');

let locked = false;

function post(message: DownloadViewMessage): void {
  vscode.postMessage(message);
}

function setFormDisabled(disabled: boolean): void {
  for (const field of [passphrase, zipPassword, zipPasswordConfirm]) {
    field.disabled = disabled || locked;
  }
  usePassphrase.disabled = disabled || locked;
  downloadButton.disabled = disabled || locked;
}

function clearSecrets(): void {
  passphrase.value = '';
  zipPassword.value = '';
  zipPasswordConfirm.value = '';
}

function updateZipFields(): void {
  zipFields.hidden = usePassphrase.checked;
}

/** Checks the form in the page for quick feedback; the extension checks everything again. */
function validate(): boolean {
  let valid = true;
  if (passphrase.value === '') {
    showFieldError('passphrase', t('passphraseMissing'));
    valid = false;
  }
  if (!usePassphrase.checked) {
    if (zipPassword.value === '') {
      showFieldError('zip-password', t('zipPasswordMissing'));
      valid = false;
    } else if (zipPassword.value !== zipPasswordConfirm.value) {
      showFieldError('zip-password-confirm', t('zipPasswordMismatch'));
      valid = false;
    }
  }
  return valid;
}

function submit(): void {
  clearErrors();
  attemptsLeft.textContent = '';
  if (!validate()) {
    return;
  }

  post({
    type: 'submit',
    passphrase: passphrase.value,
    zipPassword: usePassphrase.checked ? '' : zipPassword.value,
    zipPasswordConfirm: usePassphrase.checked ? '' : zipPasswordConfirm.value,
    usePassphrase: usePassphrase.checked,
  });
  clearSecrets();
  setFormDisabled(true);
  setStatus(t('checking'));
}

function fieldId(field: string): string {
  switch (field) {
    case 'zipPassword':
      return 'zip-password';
    case 'zipPasswordConfirm':
      return 'zip-password-confirm';
    default:
      return field;
  }
}

function handle(message: DownloadHostMessage): void {
  switch (message.type) {
    case 'init':
      byId('entry-name').textContent = message.name;
      byId('entry-size').textContent = message.size;
      byId('entry-sender').textContent = message.sender;
      byId('entry-received').textContent = message.receivedAt;
      focusField('passphrase');
      return;
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
      attemptsLeft.textContent = message.attemptsLeft === undefined ? '' : t('attemptsLeft', message.attemptsLeft);
      return;
    case 'locked':
      locked = true;
      setFormDisabled(true);
      setStatus('');
      generalError.textContent = message.text;
      return;
  }
}

window.addEventListener('message', (event: MessageEvent) => {
  const message = parseDownloadHostMessage(event.data);
  if (message) {
    handle(message);
  }
});

downloadButton.addEventListener('click', submit);
cancelButton.addEventListener('click', () => post({ type: 'cancel' }));
usePassphrase.addEventListener('change', updateZipFields);
document.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !downloadButton.disabled) {
    event.preventDefault();
    submit();
  }
});

updateZipFields();
post({ type: 'ready' });
