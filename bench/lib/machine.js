// The machine the bench ran on: CPU, memory, system and the working folder's file system.
'use strict';
const fs = require('node:fs');
const os = require('node:os');

function cpuModel() {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  return cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1].trim() ?? os.cpus()[0]?.model ?? 'unknown';
}

function debianVersion() {
  try {
    return `Debian ${fs.readFileSync('/etc/debian_version', 'utf8').trim()}`;
  } catch {
    return os.type();
  }
}

/** Returns the file system type of `dir` from /proc/mounts (longest matching mount point). */
function fileSystemOf(dir) {
  const real = fs.realpathSync(dir);
  let best = { mountPoint: '', type: 'unknown' };
  for (const line of fs.readFileSync('/proc/mounts', 'utf8').split('\n')) {
    const [, mountPoint, type] = line.split(' ');
    if (mountPoint === undefined) continue;
    const inside = real === mountPoint || real.startsWith(mountPoint.endsWith('/') ? mountPoint : `${mountPoint}/`);
    if (inside && mountPoint.length > best.mountPoint.length) {
      best = { mountPoint, type };
    }
  }
  return best;
}

function describeMachine(workDir) {
  const fileSystem = fileSystemOf(workDir);
  return {
    cpu: cpuModel(),
    cores: os.cpus().length,
    memoryGiB: (os.totalmem() / 1024 ** 3).toFixed(1),
    system: `${debianVersion()}, Linux ${os.release()}`,
    node: process.version,
    nodeOpenssl: process.versions.openssl,
    workDir: `${fileSystem.mountPoint} (${fileSystem.type})`,
    loadAverage: os.loadavg().map((load) => load.toFixed(2)).join(', '),
  };
}

module.exports = { describeMachine };
