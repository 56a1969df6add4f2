// A private OpenSSH server on 127.0.0.1 for the scp comparisons: its own configuration,
// host key, port and authorized key, started and stopped by the bench.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { run } = require('./measure');

const SSHD = '/usr/sbin/sshd';
/** The folder sshd's privilege separation needs; Debian creates it only when the service starts. */
const PRIVILEGE_SEPARATION_DIR = '/run/sshd';
const READY_TIMEOUT_MS = 10000;
const STOP_TIMEOUT_MS = 5000;

/** Returns a port that was free on 127.0.0.1 a moment ago. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts sshd in the foreground on 127.0.0.1 with a configuration in `dir`, and returns
 * `{ user, port, sshArgs, cipher, stop }`. `sshArgs` are the ssh and scp options that log
 * in to it, without the port, which ssh takes as `-p` and scp as `-P`. `cipher` is the
 * cipher the default settings negotiate, and `stop()` ends sshd by its process id.
 */
async function startSshd(dir, log) {
  fs.mkdirSync(dir, { mode: 0o700 });
  const hostKey = path.join(dir, 'host_ed25519');
  const clientKey = path.join(dir, 'client_ed25519');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'sft-bench-host', '-f', hostKey]);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'sft-bench-client', '-f', clientKey]);
  const authorizedKeys = path.join(dir, 'authorized_keys');
  fs.copyFileSync(`${clientKey}.pub`, authorizedKeys);

  const port = await freePort();
  const user = os.userInfo().username;
  const knownHosts = path.join(dir, 'known_hosts');
  fs.writeFileSync(knownHosts, `[127.0.0.1]:${port} ${fs.readFileSync(`${hostKey}.pub`, 'utf8')}`);
  const config = path.join(dir, 'sshd_config');
  fs.writeFileSync(config, [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKey}`,
    `PidFile ${path.join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${authorizedKeys}`,
    `AllowUsers ${user}`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    // The working folder may sit in a world-writable parent such as /dev/shm.
    'StrictModes no',
    'Subsystem sftp internal-sftp',
    'LogLevel ERROR',
    '',
  ].join('\n'));

  if (process.getuid?.() === 0) {
    fs.mkdirSync(PRIVILEGE_SEPARATION_DIR, { recursive: true, mode: 0o755 });
  }
  await run(SSHD, ['-t', '-f', config]);
  const child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let errors = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text) => {
    errors = (errors + text).slice(-4000);
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  log(`Started sshd (pid ${child.pid}) on 127.0.0.1:${port}`);

  const sshArgs = [
    '-F', '/dev/null',
    '-i', clientKey,
    '-o', 'IdentitiesOnly=yes',
    '-o', 'BatchMode=yes',
    '-o', `UserKnownHostsFile=${knownHosts}`,
    '-o', 'StrictHostKeyChecking=yes',
  ];
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
      log(`Stopped sshd (pid ${child.pid})`);
    }
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  let cipher;
  for (;;) {
    try {
      const { stderr } = await run('ssh', [...sshArgs, '-v', '-p', String(port), `${user}@127.0.0.1`, 'true']);
      cipher = stderr.match(/kex: client->server cipher: (\S+)/)?.[1] ?? 'unknown';
      break;
    } catch (error) {
      if (Date.now() > deadline || child.exitCode !== null) {
        await stop();
        throw new Error(`sshd on 127.0.0.1:${port} did not accept a login: ${error.message}\nsshd: ${errors.trim()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  return { user, port, sshArgs, cipher, stop };
}

module.exports = { startSshd };
