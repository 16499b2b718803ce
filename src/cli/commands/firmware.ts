import { CommandError, UsageError } from '../errors.js';
import type { Command, CommandContext } from '../command.js';
import { optFlag, optInt, optString } from '../args.js';
import { dataDirOf, openStoreOrFail, requireConfig } from '../context.js';
import { APPLIANCE_LAYOUT, type FirmwareLayout } from '../../firmware/layout.js';
import { DEFAULT_TRIES } from '../../firmware/install.js';
import { processQueue } from '../../firmware/queue.js';
import { requestInstall } from '../../firmware/request.js';
import { firmwareStatus, formatStatus } from '../../firmware/status.js';
import { probeSip, probeTarget } from '../../firmware/boot-check.js';
import { readService, serviceRunning } from '../../store/index.js';
import { displayText } from '../../ops/sanitize.js';

/** The appliance's paths, each replaceable by a flag (tests run against files and directories). */
function layoutOf(ctx: CommandContext): FirmwareLayout {
  const o = (name: string, dflt: string): string => optString(ctx.args, name) ?? dflt;
  return {
    espDir: o('esp', APPLIANCE_LAYOUT.espDir),
    slotDir: o('slot-dir', APPLIANCE_LAYOUT.slotDir),
    cmdlineFile: o('cmdline', APPLIANCE_LAYOUT.cmdlineFile),
    efivarsDir: o('efivars', APPLIANCE_LAYOUT.efivarsDir),
    publicKeyFile: o('pubkey', APPLIANCE_LAYOUT.publicKeyFile),
    queueDir: o('queue-dir', APPLIANCE_LAYOUT.queueDir),
  };
}

async function install(ctx: CommandContext, l: FirmwareLayout): Promise<number> {
  const tries = optInt(ctx.args, 'tries', 1, 9) ?? DEFAULT_TRIES;
  const say = (line: string): void => { ctx.stdout.write(`${displayText(line)}\n`); };
  const queued = optString(ctx.args, 'queued');
  if (queued !== undefined) {
    const work = optString(ctx.args, 'work-dir');
    if (work === undefined) throw new UsageError('ERR_CLI_OPTION_CONFLICT', '--queued needs --work-dir DIR (a directory only root can write)');
    return processQueue({ ...l, queueDir: queued }, work, process.arch, tries, say);
  }
  const [file, extra] = ctx.args.positionals.slice(1);
  if (file === undefined) throw new UsageError('ERR_CLI_ARGUMENT', 'FILE is missing');
  if (extra !== undefined) throw new UsageError('ERR_CLI_ARGUMENT', `unexpected argument '${extra}'`);
  // A refusal is the command's error: on stderr, exit 1.
  let last = '';
  const code = await requestInstall(file, l, tries, (optInt(ctx.args, 'timeout', 10, 7200) ?? 1800) * 1000, (line) => {
    if (last !== '') say(last);
    last = line;
  });
  if (code === 0) say(last);
  else throw new CommandError('ERR_CLI_FIRMWARE', last);
  return 0;
}

async function checkBoot(ctx: CommandContext): Promise<number> {
  const config = requireConfig(ctx);
  const timeoutS = optInt(ctx.args, 'timeout', 1, 3600) ?? 120;
  const { host, port } = probeTarget(config);
  const answer = await probeSip(host, port, Date.now() + timeoutS * 1000);
  if (answer === null) throw new CommandError('ERR_CLI_FIRMWARE', `no SIP answer from ${host}:${port} within ${timeoutS} s: this boot is not good`);
  const store = openStoreOrFail(dataDirOf(ctx, config));
  try {
    const rec = readService(store);
    if (!serviceRunning(rec, Date.now())) throw new CommandError('ERR_CLI_FIRMWARE', `${host}:${port} answers (${answer}) but the store in ${store.dataDir} has no running service's heartbeat`);
    ctx.stdout.write(`good boot: ${host}:${port} answers '${displayText(answer)}', store ${store.dataDir} open by pid ${rec!.pid}\n`);
  } finally {
    await store.close();
  }
  return 0;
}

export const firmwareCommand: Command = {
  name: 'firmware',
  usage: 'install FILE | status | check-boot',
  summary: 'install a signed firmware bundle in the other slot; slots, versions and boot results',
  options: [
    { name: 'tries', value: 'N', help: `install: boots the new slot gets to answer SIP before the box goes back (default ${DEFAULT_TRIES})` },
    { name: 'timeout', value: 'SECONDS', help: 'install: wait this long for the install service (1800); check-boot: for the SIP answer (120)' },
    { name: 'json', help: 'status: as JSON' },
    { name: 'pubkey', value: 'FILE', help: `the key bundles must be signed with (${APPLIANCE_LAYOUT.publicKeyFile})` },
    { name: 'esp', value: 'DIR', help: `the mounted EFI system partition (${APPLIANCE_LAYOUT.espDir})` },
    { name: 'slot-dir', value: 'DIR', help: `where the slots sipreg-root-a and -b are (${APPLIANCE_LAYOUT.slotDir})` },
    { name: 'cmdline', value: 'FILE', help: `the kernel command line naming the booted slot (${APPLIANCE_LAYOUT.cmdlineFile})` },
    { name: 'efivars', value: 'DIR', help: `efivarfs, for the entry systemd-boot booted (${APPLIANCE_LAYOUT.efivarsDir})` },
    { name: 'queue-dir', value: 'DIR', help: `where an unprivileged install hands the bundle to sipreg-firmware.service (${APPLIANCE_LAYOUT.queueDir})` },
    { name: 'queued', value: 'DIR', help: 'install (the root service): install the bundles handed over in DIR' },
    { name: 'work-dir', value: 'DIR', help: 'with --queued: root\'s own directory for the copies it verifies' },
    { name: 'data-dir', value: 'DIR', help: 'check-boot: use this data directory instead of the config\'s data_dir' },
  ],
  async run(ctx) {
    const sub = ctx.args.positionals[0];
    const l = layoutOf(ctx);
    switch (sub) {
      case 'install':
        return install(ctx, l);
      case 'status': {
        if (ctx.args.positionals.length > 1) throw new UsageError('ERR_CLI_ARGUMENT', `unexpected argument '${ctx.args.positionals[1]!}'`);
        const st = firmwareStatus(l);
        ctx.stdout.write(optFlag(ctx.args, 'json') ? `${JSON.stringify(st, null, 2)}\n` : formatStatus(st).split('\n').map(displayText).join('\n'));
        return 0;
      }
      case 'check-boot':
        return checkBoot(ctx);
      case undefined:
        throw new UsageError('ERR_CLI_ARGUMENT', 'install, status or check-boot?');
      default:
        throw new UsageError('ERR_CLI_UNKNOWN_COMMAND', `unknown firmware command '${sub}' (install, status, check-boot)`);
    }
  },
};
