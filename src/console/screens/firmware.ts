// The console's Firmware menu: both slots as `sipreg firmware status` shows them, and an install
// of a bundle named by its path on the box (uploaded with scp/sftp), through the same checks and the same
// root service as `sipreg firmware install`.
import type { Ui } from '../ui.js';
import { menuLines } from '../screen.js';
import { wrap } from '../../ops/format.js';
import { displayText } from '../../ops/sanitize.js';
import { APPLIANCE_LAYOUT, type FirmwareLayout } from '../../firmware/layout.js';
import { firmwareStatus, formatStatus } from '../../firmware/status.js';
import { DEFAULT_TRIES } from '../../firmware/install.js';
import { requestInstall } from '../../firmware/request.js';

const INSTALL_TIMEOUT_MS = 30 * 60_000;

export async function firmwareMenu(ui: Ui, layout: FirmwareLayout = APPLIANCE_LAYOUT): Promise<void> {
  const statusBody = (): string[] => formatStatus(firmwareStatus(layout)).trimEnd().split('\n').map((l) => displayText(l));
  await ui.menu(() => ({
    title: 'Firmware',
    body: [...statusBody(), '', ...wrap(`Install: upload a signed bundle (sipreg-<arch>-<version>.fw) to the box with scp or sftp, then give its path. ` +
      `The other slot is written; the box tries it at the next reboot (${DEFAULT_TRIES} tries) and comes back to this one if sipreg does not answer.`, 80)],
    menu: menuLines(['1 install a bundle', 'Enter refresh', '0 back']),
  }), async (choice) => {
    if (choice !== '1') return `Unknown choice '${choice}': type a number from the menu, 0 to go back.`;
    const path = await ui.prompt({ title: 'Firmware: install', body: statusBody(), menu: [] }, 'Path of the bundle on the box (0 = cancel): ');
    if (path === null || path === '') return undefined;
    const lines: string[] = [];
    const code = await requestInstall(path, layout, DEFAULT_TRIES, INSTALL_TIMEOUT_MS, (line) => { lines.push(line); });
    await ui.pause({
      title: code === 0 ? 'Firmware: installed (reboot to try it)' : 'Firmware: not installed',
      body: lines.flatMap((l) => wrap(l, 80)),
      menu: [],
    });
    return undefined;
  });
}
