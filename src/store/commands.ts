import type { Store } from './open.js';
import type { CommandRecord } from './records.js';
import { timeKey } from './keys.js';

/** Queues an operator request for the running service (it polls `commands` every second). */
export function postCommand(store: Store, cmd: CommandRecord): Promise<boolean> {
  return store.commands.put(timeKey(cmd.atMs), cmd);
}

/** Requests not yet taken by the service, oldest first. */
export function pendingCommands(store: Store): CommandRecord[] {
  const out: CommandRecord[] = [];
  for (const { value } of store.commands.getRange({})) out.push(value);
  return out;
}
