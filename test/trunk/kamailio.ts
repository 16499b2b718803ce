// Test helper: a real Kamailio (apt) as the upstream registrar, on a loopback port, in the foreground,
// from test/fixtures/kamailio/registrar.cfg. Each instance has its own run directory under the OS tmp.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'kamailio', 'registrar.cfg');

export interface KamailioOptions {
  readonly port: number;
  readonly password: string;
  readonly minExpiresS: number;
  readonly maxExpiresS: number;
  readonly algorithm: 'MD5' | 'SHA-256';
}

export interface LocationContact {
  readonly address: string;  // Contact URI as stored
  readonly expiresS: number;
  readonly callId: string;
}

export class Kamailio {
  readonly dir: string;
  readonly cfg: string;
  readonly ctl: string;
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  log = '';

  constructor(readonly opts: KamailioOptions) {
    this.dir = mkdtempSync(join(tmpdir(), 'sipreg-kam-'));
    this.ctl = join(this.dir, 'ctl.sock');
    this.cfg = join(this.dir, 'registrar.cfg');
    const text = readFileSync(FIXTURE, 'utf8')
      .replaceAll('@PORT@', String(opts.port))
      .replaceAll('@CTL@', this.ctl)
      .replaceAll('@PASSWORD@', opts.password)
      .replaceAll('@MIN_EXPIRES@', String(opts.minExpiresS))
      .replaceAll('@MAX_EXPIRES@', String(opts.maxExpiresS))
      .replaceAll('@ALGORITHM@', opts.algorithm);
    writeFileSync(this.cfg, text);
  }

  /** Starts it and waits until its control socket answers. */
  async start(): Promise<void> {
    if (this.child !== null) throw new Error('kamailio already running');
    // -DD: no daemon, keep forking children; -E: log to stderr; -Y: runtime dir (no /run/kamailio).
    const child = spawn('kamailio', ['-f', this.cfg, '-DD', '-E', '-Y', this.dir, '-m', '32', '-M', '8'], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout?.on('data', (d: Buffer) => { this.log += d.toString(); });
    child.stderr?.on('data', (d: Buffer) => { this.log += d.toString(); });
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`kamailio exited at start:\n${this.log.slice(-2000)}`);
      try {
        await this.rpc('core.version');
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`kamailio did not come up:\n${this.log.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** SIGTERM to the main process (its children follow) and wait for it to exit. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === null) return;
    this.child = null;
    if (child.exitCode === null) child.kill('SIGTERM');
    await this.exited;
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  rpc(...args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile('kamcmd', ['-s', `unix:${this.ctl}`, ...args], { timeout: 5_000 }, (err, stdout) => {
        if (err !== null) reject(err); else resolve(stdout);
      });
    });
  }

  /** The contacts of one AOR (user part; the fixture keeps usrloc's default use_domain 0). */
  async contacts(user: string): Promise<LocationContact[]> {
    const dump = await this.rpc('ul.dump');
    const out: LocationContact[] = [];
    // ul.dump prints nested blocks; walk AoR by AoR and take each Contact's Address/Expires/Call-ID.
    const aors = dump.split(/\bAoR: /).slice(1);
    for (const block of aors) {
      const aor = block.slice(0, block.indexOf('\n')).trim();
      if (aor !== user) continue;
      for (const c of block.split(/\bContact: \{/).slice(1)) {
        const address = /Address: (\S+)/.exec(c)?.[1] ?? '';
        const expires = /Expires: (\S+)/.exec(c)?.[1] ?? '';
        const callId = /Call-ID: (\S+)/.exec(c)?.[1] ?? '';
        out.push({ address, expiresS: expires === 'permanent' ? Infinity : Number(expires), callId });
      }
    }
    return out;
  }

  /** The request lines the fixture's xlog wrote: one per request received. */
  requests(): string[] {
    return this.log.split('\n').filter((l) => l.includes('REQ '));
  }
}
