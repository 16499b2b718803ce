/**
 * The `params:` block: each SS_* parameter by the table in params.ts, then the relations between them.
 */
import { isScalar, isSeq } from 'yaml';
import { checkParamRelations, defaultParams, paramSpecByName, paramSpecs, parseParamValue } from './params.js';
import type { ParamSpec, ParamValue } from './params.js';
import type { Params } from './types.js';
import type { ConfigDocument, Entry } from './yaml.js';

/** The parameters, each one not given (or given wrong) at its default. */
export function readParams(doc: ConfigDocument, entry: Entry | undefined): Params {
  const out: Record<string, ParamValue> = { ...(defaultParams as unknown as Record<string, ParamValue>) };
  if (entry === undefined) return out as unknown as Params;
  const names = paramSpecs.map((s) => s.name);
  const map = doc.mapping(entry.node, entry.path, names);
  if (map === null) return out as unknown as Params;
  for (const [name, param] of map) {
    const spec = paramSpecByName.get(name);
    if (spec === undefined) continue;
    const value = paramValue(doc, spec, param);
    if (value !== undefined) out[spec.field] = value;
  }
  const params = out as unknown as Params;
  for (const relation of checkParamRelations(params)) {
    const blamed = [relation.name, ...relation.others].map((n) => map.get(n)).find((e) => e !== undefined);
    doc.report(blamed?.node ?? entry.node, `params.${relation.name}`, 'ERR_CONFIG_RELATION', relation.message);
  }
  return params;
}

/** One value read by its parameter's spec (also a trunk's `expire`, read as SS_SIP_USER_AGENT_EXPIRE). */
export function paramValue(doc: ConfigDocument, spec: ParamSpec, entry: Entry): ParamValue | undefined {
  const n = doc.resolveAlias(entry.node);
  let input: unknown;
  if (isScalar(n)) input = n.value;
  else if (isSeq(n) && spec.kind === 'list') input = n.items.map((item) => { const r = doc.resolveAlias(item); return isScalar(r) ? r.value : undefined; });
  else {
    doc.report(entry.node, entry.path, 'ERR_CONFIG_TYPE', `must be a single value. Received ${doc.describe(n)}`);
    return undefined;
  }
  const parsed = parseParamValue(spec, input);
  if (parsed.code !== null) {
    doc.report(entry.node, entry.path, parsed.code, parsed.message);
    return undefined;
  }
  return parsed.value;
}
