/**
 * Why `ca serve` cannot listen, said so a user can act on it: the address is taken (and by which
 * process, where Linux's /proc tells), the port needs privileges, the address is not this
 * machine's. Each names the ca.json field to change; none is a bug in ca.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { CaError } from '../errors.js';
import { formatAddress } from './tls.js';

export interface PortOwner {
  pid: number;
  /** Its command line, shortened. */
  command: string;
}

/** The inodes of sockets listening on TCP `port`, from /proc/net/tcp and tcp6 (state 0A is LISTEN). */
async function listeningInodes(port: number, procRoot: string): Promise<Set<string>> {
  const inodes = new Set<string>();
  for (const table of ['net/tcp', 'net/tcp6']) {
    const text = await readFile(`${procRoot}/${table}`, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const [, local, , state, , , , , , inode] = line.trim().split(/\s+/);
      const localPort = local?.split(':')[1];
      if (state === '0A' && localPort !== undefined && Number.parseInt(localPort, 16) === port && inode && inode !== '0') inodes.add(inode);
    }
  }
  return inodes;
}

/**
 * The process listening on TCP `port`, where it can be found: Linux, and a process whose open
 * files we may read (ours, or any as root). Best effort: undefined whenever it cannot tell.
 */
export async function findPortOwner(port: number, procRoot = '/proc'): Promise<PortOwner | undefined> {
  try {
    const inodes = await listeningInodes(port, procRoot);
    if (inodes.size === 0) return undefined;
    for (const entry of await readdir(procRoot)) {
      if (!/^\d+$/.test(entry)) continue;
      const fds = await readdir(`${procRoot}/${entry}/fd`).catch(() => [] as string[]);
      for (const fd of fds) {
        const inode = /^socket:\[(\d+)\]$/.exec(await readlink(`${procRoot}/${entry}/fd/${fd}`).catch(() => ''))?.[1];
        if (inode === undefined || !inodes.has(inode)) continue;
        const cmdline = (await readFile(`${procRoot}/${entry}/cmdline`, 'utf8').catch(() => ''))
          .split('\0')
          .filter(Boolean)
          .join(' ')
          .replace(/\s+/g, ' ');
        return { pid: Number(entry), command: cmdline.length > 80 ? `${cmdline.slice(0, 77)}...` : cmdline || '?' };
      }
    }
  } catch {
    /* best effort: say less */
  }
  return undefined;
}

/**
 * The CaError for a failed listen on `host:port` (from ca.json at `configPath`), or undefined
 * for a failure that is not about the address.
 */
export async function listenError(err: unknown, host: string | undefined, port: number, configPath: string): Promise<CaError | undefined> {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const address = formatAddress(host, port);
  const field = `"address" in ${configPath}`;
  const fail = (detail: string, hint: string): CaError => new CaError('ERR_LISTEN_FAILED', `cannot listen on ${address}: ${detail}`, { hint, cause: err });
  switch (code) {
    case 'EADDRINUSE': {
      const owner = await findPortOwner(port);
      const who = owner ? ` by ${owner.command} (pid ${owner.pid})` : '';
      const other = formatAddress(host, port === 8443 ? 9443 : 8443);
      return fail(`the address is already in use${who}`, `stop ${owner ? 'that process' : 'whatever listens there (another ca serve?)'}, or set another port in ${field}, e.g. "${other}"`);
    }
    case 'EACCES':
      return fail(
        `permission denied (ports below 1024 need root or the CAP_NET_BIND_SERVICE capability)`,
        `set a port above 1023 in ${field}, e.g. ":8443", or let node bind low ports: sudo setcap cap_net_bind_service=+ep ${process.execPath}`,
      );
    case 'EADDRNOTAVAIL':
      return fail(`${host ?? 'the host'} is not an address of this machine`, `set one of this machine's addresses in ${field}, or ":${port}" to listen on all of them`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return fail(`the host name ${host ?? ''} does not resolve`, `set an IP address or a resolvable name in ${field}, or ":${port}" to listen on all addresses`);
    default:
      return undefined;
  }
}
