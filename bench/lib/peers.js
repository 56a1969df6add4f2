// The peer tools: installing them from Debian when missing, and reading their versions.
'use strict';
const fs = require('node:fs');
const { run } = require('./measure');

/** Each program the bench runs, with the Debian package that provides it. */
const PROGRAMS = [
  { path: '/usr/bin/time', pkg: 'time' },
  { path: '/usr/bin/age', pkg: 'age' },
  { path: '/usr/bin/gpg', pkg: 'gnupg' },
  { path: '/usr/bin/gpgconf', pkg: 'gnupg' },
  { path: '/usr/bin/openssl', pkg: 'openssl' },
  { path: '/usr/sbin/sshd', pkg: 'openssh-server' },
  { path: '/usr/bin/ssh', pkg: 'openssh-client' },
  { path: '/usr/bin/ssh-keygen', pkg: 'openssh-client' },
  { path: '/usr/bin/scp', pkg: 'openssh-client' },
  { path: '/usr/bin/7zz', pkg: '7zip' },
  { path: '/usr/bin/cmp', pkg: 'diffutils' },
];

/**
 * Installs the Debian packages of missing programs with apt-get. Needs root; without it
 * the error lists the packages to install by hand.
 */
async function ensurePeers(log) {
  const missing = [...new Set(PROGRAMS.filter((program) => !fs.existsSync(program.path)).map((program) => program.pkg))];
  if (missing.length === 0) return;

  if (process.getuid?.() !== 0) {
    throw new Error(`Missing Debian packages: ${missing.join(' ')}. Install them with "sudo apt-get install ${missing.join(' ')}", or run the bench as root.`);
  }
  log(`Installing ${missing.join(' ')} with apt-get`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  try {
    await run('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env });
  } catch {
    // A fresh machine has no package lists yet.
    await run('apt-get', ['update'], { env });
    await run('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env });
  }
}

async function firstLine(command, args, pattern = /./) {
  try {
    const { stdout, stderr } = await run(command, args);
    return `${stdout}\n${stderr}`.split('\n').find((line) => pattern.test(line))?.trim() ?? 'unknown';
  } catch (error) {
    return `unknown (${error.message.split('\n')[0].slice(0, 80)})`;
  }
}

/** Returns the version line of each peer, for the machine section of the report. */
async function peerVersions() {
  return {
    age: `age ${await firstLine('age', ['--version'])}`,
    gpg: `${await firstLine('gpg', ['--version'])}, ${await firstLine('gpg', ['--version'], /libgcrypt/)}`,
    openssl: await firstLine('openssl', ['version']),
    ssh: await firstLine('ssh', ['-V']),
    sevenZip: await firstLine('7zz', [], /7-Zip/),
  };
}

module.exports = { ensurePeers, peerVersions };
