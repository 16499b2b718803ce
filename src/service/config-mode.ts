import { statSync } from 'node:fs';
import type { Config } from '../config/types.js';

/**
 * Who besides its owner may read a config that holds secrets (a password or HA1 of an account, a
 * trunk password), or null when nobody may or there is nothing secret in it. The service's own group
 * may: the appliance shares /etc/sipreg/sipreg.yaml with the `admin` account through group sipreg
 * (0660 root:sipreg), and an HA1 is only worth guarding from people outside that group. Any other
 * group, and everyone (world-readable or world-writable), is named. Checked at start and on reload.
 */
export function configExposure(config: Config): { mode: string; openTo: string } | null {
  const secret = config.accounts.some((a) => a.ha1.md5 !== null || a.ha1.sha256 !== null)
    || config.trunks.some((t) => t.password !== '');
  if (!secret) return null;
  let st;
  try {
    st = statSync(config.file);
  } catch {
    return null; // read a moment ago; gone since: the next reload says so
  }
  const who: string[] = [];
  if ((st.mode & 0o060) !== 0 && st.gid !== process.getgid?.()) who.push(`group ${st.gid}`);
  if ((st.mode & 0o006) !== 0) who.push('everyone');
  if (who.length === 0) return null;
  return { mode: (st.mode & 0o7777).toString(8).padStart(4, '0'), openTo: who.join(' and ') };
}
