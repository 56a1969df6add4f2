import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSftError } from '../../src/errors';
import { formatHostPort, formatLink, parseHostPort, parseReceiverAddress } from '../../src/transfer/link';

const fingerprint = 'SHA256:' + 'A'.repeat(43);

test('links and addresses parse', () => {
  assert.deepEqual(parseReceiverAddress('127.0.0.1:7443'), { host: '127.0.0.1', port: 7443 });
  assert.deepEqual(parseReceiverAddress('Example.COM:1'), { host: 'example.com', port: 1 });
  assert.deepEqual(parseReceiverAddress('[::1]:65535'), { host: '::1', port: 65535 });
  assert.deepEqual(parseReceiverAddress(`sft://127.0.0.1:7443#${fingerprint}`), { host: '127.0.0.1', port: 7443, fingerprint });
  assert.deepEqual(parseReceiverAddress(`SFT://[::1]:80/#${fingerprint}`), { host: '::1', port: 80, fingerprint });
  assert.deepEqual(parseReceiverAddress('sft://host-a.local:9'), { host: 'host-a.local', port: 9 });
});

test('links format and parse back', () => {
  for (const host of ['127.0.0.1', '::1', 'receiver.example']) {
    const link = formatLink({ host, port: 7443, fingerprint });
    assert.deepEqual(parseReceiverAddress(link), { host, port: 7443, fingerprint });
  }
  assert.equal(formatHostPort('::1', 5), '[::1]:5');
  assert.equal(formatLink({ host: '::1', port: 5, fingerprint }), `sft://[::1]:5#${fingerprint}`);
});

test('bad addresses name the value', () => {
  const cases = [
    '127.0.0.1',
    '127.0.0.1:0',
    '127.0.0.1:65536',
    '127.0.0.1:80a',
    '::1:7443',
    '[::1]7443',
    '[nothex]:7443',
    'https://host:1',
    'sft://host:1#SHA256:short',
    'bad_host:1',
    ':7443',
    '',
  ];
  for (const value of cases) {
    assert.throws(
      () => parseReceiverAddress(value, '--to'),
      (error) => isSftError(error, 'USAGE') && error.message.includes('--to') && error.message.includes(`"${value.trim()}"`),
      value,
    );
  }
  assert.throws(() => parseHostPort('a:b'), (error) => isSftError(error, 'USAGE'));
});
