import { CommandError, UsageError, errorLine } from '../errors.js';
import { closeSync, constants as fsc, fstatSync, lstatSync, openSync, readFileSync, readSync, unlinkSync } from 'node:fs';
import { boundedTimeout } from '../../timers.js';
import { resolve } from 'node:path';
import type { Command, CommandContext } from '../command.js';
import { DATA_DIR_OPTION } from '../command.js';
import { optFlag, optInt, optString } from '../args.js';
import { missingConfig } from '../context.js';
import { formatProblem } from '../../config/index.js';
import { fileSha256, sha256Hex } from '../../config/fingerprint.js';
import { checkPushed, pushConfig, PushRefused, serviceComesUp, type PushOutcome } from '../../ops/config-push.js';
import {
  appendHistory, keptVersions, lockPushes, nextPushNumber, readHistory, versionFile, versionsDirOf, VersionsError, VERSIONS_KEPT,
} from '../../ops/config-versions.js';
import { formatDateTime } from '../../ops/format.js';
import { operatorLimits } from '../../limits.js';
import { displayText } from '../../ops/sanitize.js';

const TIMEOUT_S_DEFAULT = 15;

/**
 * `sipreg config apply FILE | history | rollback [N]`: config pushes that cannot leave the
 * box without phones. ops/config-push.ts does the push; this parses, checks and reports.
 */
export const configCommand: Command = {
  name: 'config',
  usage: 'apply FILE|- | history | rollback [N]',
  subcommands: ['apply', 'history', 'rollback'],
  summary: 'push a config to the running service (checked, kept, confirmed, else rolled back); list pushes; go back to a kept version',
  options: [
    { name: 'consume', help: 'apply FILE from a push drop-box: read it (a regular file, not a link), remove it, and record even a refused one in the history (the appliance\'s path unit runs `config apply --consume /etc/sipreg/push.yaml`); no file there: nothing to do, exit 0' },
    { name: 'timeout', value: 'S', help: `seconds to wait for the service to confirm a push before putting the previous config back (default ${TIMEOUT_S_DEFAULT})` },
    { ...DATA_DIR_OPTION, help: 'the running service\'s data_dir, when it was started with --data-dir' },
  ],
  async run(ctx) {
    const [sub, arg, extra] = ctx.args.positionals;
    if (extra !== undefined) throw new UsageError('ERR_CLI_ARGUMENT', `unexpected argument '${extra}'`);
    switch (sub) {
      case 'apply': {
        if (arg === undefined) throw new UsageError('ERR_CLI_ARGUMENT', 'apply needs FILE (- reads the config from stdin)');
        if (optFlag(ctx.args, 'consume')) {
          if (arg === '-') throw new UsageError('ERR_CLI_OPTION_CONFLICT', '--consume takes a file, not stdin');
          return applyConsumed(ctx, arg);
        }
        return apply(ctx, arg);
      }
      case 'history':
        if (arg !== undefined) throw new UsageError('ERR_CLI_ARGUMENT', `unexpected argument '${arg}'`);
        return history(ctx);
      case 'rollback':
        return rollback(ctx, arg);
      case undefined: throw new UsageError('ERR_CLI_ARGUMENT', 'apply, history or rollback?');
      default: throw new UsageError('ERR_CLI_UNKNOWN_COMMAND', `unknown subcommand '${sub}' (apply, history, rollback)`);
    }
  },
};

function timeoutMs(ctx: CommandContext): number {
  return (optInt(ctx.args, 'timeout', 1, 600) ?? TIMEOUT_S_DEFAULT) * 1000;
}

/** --data-dir as an absolute path, or undefined (the config's data_dir). */
function dataDirOption(ctx: CommandContext): string | undefined {
  const dir = optString(ctx.args, 'data-dir');
  return dir === undefined ? undefined : resolve(dir);
}

function requireTarget(ctx: CommandContext): void {
  const missing = missingConfig(ctx);
  if (missing !== null) throw new CommandError('ERR_CLI_NO_CONFIG', missing);
}

async function apply(ctx: CommandContext, file: string): Promise<number> {
  requireTarget(ctx);
  const label = file === '-' ? '<stdin>' : file;
  let bytes: Buffer;
  try {
    bytes = readFileSync(file === '-' ? 0 : file);
  } catch (err) {
    throw new CommandError('ERR_CLI_FILE', `${label}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}; nothing changed`);
  }
  // The same lines as `sipreg check -c FILE`.
  const checked = checkPushed(bytes, label);
  if (checked.config === null) {
    for (const p of checked.problems) ctx.stderr.write(`${formatProblem(p)}\n`);
    const n = checked.problems.length;
    throw new CommandError('ERR_CLI_CONFIG_INVALID', `${label}: invalid configuration (${n} problem${n === 1 ? '' : 's'}); nothing changed`);
  }
  return push(ctx, bytes, `apply ${label}`);
}

/**
 * Files left in the push drop-box: each read without following a link (admin may write that directory;
 * this runs as the service's user), bounded, removed once read so the next push can land, then checked
 * and pushed as `apply` does. A refused file is a line of the history too: the installer who copied it
 * there sees no terminal, only `sipreg config history` and the journal. The path unit (PathExists) may
 * start this as soon as a copy is created: a file is taken once its size and time have stood still for
 * `pushSettleMs`. Files that land while it runs are taken too, until none is left.
 */
async function applyConsumed(ctx: CommandContext, file: string): Promise<number> {
  requireTarget(ctx);
  let rc = 0;
  let taken = 0;
  for (;;) {
    if (!(await settled(file))) {
      if (taken === 0) ctx.stdout.write(`${displayText(file)}: no push waiting\n`);
      return rc;
    }
    taken++;
    try {
      await consumeOne(ctx, file);
    } catch (err) {
      if (!(err instanceof CommandError)) throw err;
      ctx.stderr.write(errorLine('sipreg config', err));
      rc = 1;
    }
  }
}

async function consumeOne(ctx: CommandContext, file: string): Promise<void> {
  let bytes: Buffer;
  try {
    bytes = takeDropped(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = err instanceof CommandError ? err.message : `cannot read: ${code === 'ELOOP' ? 'a symbolic link (push a regular file)' : code ?? String(err)}`;
    try { unlinkSync(file); } catch { /* gone, or not ours to remove */ }
    refusedPush(ctx, file, reason, '');
  }
  const checked = checkPushed(bytes, file);
  if (checked.config === null) {
    for (const p of checked.problems) ctx.stderr.write(`${formatProblem(p)}\n`);
    const n = checked.problems.length;
    const first = checked.problems[0] === undefined ? '' : `: ${formatProblem(checked.problems[0])}`;
    refusedPush(ctx, file, `invalid configuration (${n} problem${n === 1 ? '' : 's'})${first}`, sha256Hex(bytes));
  }
  if (!(await serviceComesUp(ctx.configFile, dataDirOption(ctx), timeoutMs(ctx)))) {
    refusedPush(ctx, file, `the service is not running (no live heartbeat within ${timeoutMs(ctx) / 1000} s): nothing could confirm it; copy it again once the service runs`, sha256Hex(bytes));
  }
  if ((await push(ctx, bytes, `push file ${file}`)) !== 0) throw new CommandError('ERR_CLI_PUSH_REFUSED', `${file}: not applied`);
}

/** Whether `file` is there (as anything), once its size and time have not moved for pushSettleMs. */
async function settled(file: string): Promise<boolean> {
  const deadline = Date.now() + operatorLimits.pushSettleMaxMs;
  let last = '';
  for (;;) {
    let st;
    try {
      st = lstatSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      return true; // not ours to wait on: consumeOne says why
    }
    const seen = `${st.size}:${st.mtimeMs}:${st.ino}`;
    if ((seen === last && Date.now() - st.mtimeMs >= operatorLimits.pushSettleMs) || Date.now() >= deadline) return true;
    last = seen;
    await new Promise((resolve) => boundedTimeout(() => resolve(undefined), operatorLimits.pushSettleMs / 2));
  }
}

function takeDropped(file: string): Buffer {
  const fd = openSync(file, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  let bytes: Buffer;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new CommandError('ERR_CLI_FILE', 'not a regular file');
    if (st.size > operatorLimits.pushFileBytesMax) throw new CommandError('ERR_CLI_FILE', `${st.size} bytes, over the ${operatorLimits.pushFileBytesMax} a config may have`);
    bytes = Buffer.alloc(st.size);
    let off = 0;
    while (off < bytes.length) {
      const n = readSync(fd, bytes, off, bytes.length - off, off);
      if (n === 0) break;
      off += n;
    }
    bytes = bytes.subarray(0, off);
  } finally {
    closeSync(fd);
  }
  unlinkSync(file);
  return bytes;
}

function refusedPush(ctx: CommandContext, file: string, reason: string, sha256: string): never {
  const release = lockPushes(ctx.configFile);
  try {
    appendHistory(ctx.configFile, {
      n: nextPushNumber(ctx.configFile), atMs: Date.now(), from: `push file ${file}`, sha256, previousSha256: fileSha256(ctx.configFile) ?? '',
      result: 'refused', reason: `${reason}; nothing changed`, generation: 0,
    });
  } finally {
    release();
  }
  throw new CommandError('ERR_CLI_PUSH_REFUSED', `${file}: refused: ${reason}; nothing changed (sipreg config history)`);
}

async function push(ctx: CommandContext, bytes: Buffer, from: string): Promise<number> {
  let out: PushOutcome;
  try {
    out = await pushConfig({ configFile: ctx.configFile, bytes, from, timeoutMs: timeoutMs(ctx), dataDir: dataDirOption(ctx), say: (l) => ctx.stdout.write(`${displayText(l)}\n`) });
  } catch (err) {
    if (err instanceof PushRefused || err instanceof VersionsError) throw new CommandError('ERR_CLI_PUSH_REFUSED', err.message);
    throw err;
  }
  const e = out.entry;
  if (e.result === 'applied') {
    ctx.stdout.write(`applied: push ${e.n}, the service runs generation ${e.generation} (sha256 ${e.sha256.slice(0, 12)})\n`);
    for (const note of out.notes) ctx.stdout.write(`note: ${displayText(note)}\n`);
    return 0;
  }
  throw new CommandError('ERR_CLI_PUSH_REFUSED', `rolled back: push ${e.n} not applied: ${e.reason}`);
}

function history(ctx: CommandContext): number {
  const entries = readHistory(ctx.configFile);
  const kept = new Set(keptVersions(ctx.configFile));
  ctx.stdout.write(`${displayText(`${ctx.configFile}: pushes, newest last; the config before each is kept in ${versionsDirOf(ctx.configFile)}/N.yaml (the last ${VERSIONS_KEPT})`)}\n`);
  if (entries.length === 0) {
    ctx.stdout.write('(no push yet)\n');
    return 0;
  }
  ctx.stdout.write(`${'#'.padStart(4)}  ${'TIME'.padEnd(19)}  ${'PUSHED'.padEnd(12)}  ${'BEFORE'.padEnd(12)}  ${'GEN'.padStart(4)}  RESULT\n`);
  for (const e of entries) {
    ctx.stdout.write(`${String(e.n).padStart(4)}  ${formatDateTime(e.atMs)}  ${e.sha256.slice(0, 12).padEnd(12)}  ${e.previousSha256.slice(0, 12).padEnd(12)}  ${String(e.generation).padStart(4)}  ` +
      `${e.result}${kept.has(e.n) || e.result === 'refused' ? '' : ' (version not kept)'}  ${displayText(e.from)}\n`);
    if (e.reason !== '') ctx.stdout.write(`      ${displayText(e.reason)}\n`);
  }
  return 0;
}

async function rollback(ctx: CommandContext, arg: string | undefined): Promise<number> {
  requireTarget(ctx);
  const kept = keptVersions(ctx.configFile);
  let n: number;
  if (arg === undefined) {
    // The newest kept version that is not what the file holds now.
    const now = fileSha256(ctx.configFile);
    const found = [...kept].reverse().find((k) => fileSha256(versionFile(ctx.configFile, k)) !== now);
    if (found === undefined) throw new CommandError('ERR_CLI_NOT_FOUND', `no kept version of ${ctx.configFile} differs from it (sipreg config history)`);
    n = found;
  } else {
    if (!/^\d+$/.test(arg)) throw new UsageError('ERR_CLI_ARGUMENT', `rollback N: N is a push number (sipreg config history). Received '${arg}'`);
    n = Number(arg);
    if (!kept.includes(n)) throw new CommandError('ERR_CLI_NOT_FOUND', `no kept version ${n} in ${versionsDirOf(ctx.configFile)} (kept: ${kept.join(', ') || 'none'})`);
  }
  const file = versionFile(ctx.configFile, n);
  const bytes = readFileSync(file);
  const checked = checkPushed(bytes, file);
  if (checked.config === null) {
    for (const p of checked.problems) ctx.stderr.write(`${formatProblem(p)}\n`);
    throw new CommandError('ERR_CLI_CONFIG_INVALID', `${file}: no longer a valid configuration for this sipreg; nothing changed`);
  }
  ctx.stdout.write(`rolling back to version ${n} (the config before push ${n})\n`);
  return push(ctx, bytes, `rollback to ${n}`);
}
