import t from 'tap';
import { ExpiryOutcome, ExpiryResult, computeExpiry, describeExpiry } from '../../src/registrar/expiry.js';
import { ByteText } from '../../src/store/bytes.js';
import { params } from './helpers.js';

// [contact param, Expires header, account expire, nat, random, params] -> [outcome, granted]
const rows: [string, number, number, number | null, boolean, number, Parameters<typeof params>[0], number, number][] = [
  ['contact param wins over the header', 600, 1200, 900, false, 0, {}, ExpiryOutcome.Grant, 600],
  ['header when no param', -1, 1200, 900, false, 0, {}, ExpiryOutcome.Grant, 1200],
  ['account expire when neither', -1, -1, 900, false, 0, {}, ExpiryOutcome.Grant, 900],
  ['SS_ENDPOINT_EXPIRE last', -1, -1, null, false, 0, { endpointExpiresS: 1800 }, ExpiryOutcome.Grant, 1800],
  ['0 removes', 0, 3600, null, false, 0, {}, ExpiryOutcome.Remove, 0],
  ['header 0 removes', -1, 0, 600, false, 0, {}, ExpiryOutcome.Remove, 0],
  ['below the minimum: 423', 30, -1, null, false, 0, { endpointMinExpiresS: 60 }, ExpiryOutcome.TooBrief, 0],
  ['the minimum itself is fine', 60, -1, null, false, 0, { endpointMinExpiresS: 60 }, ExpiryOutcome.Grant, 60],
  ['above the maximum: clamped', 100000, -1, null, false, 0, { endpointMaxExpiresS: 7200 }, ExpiryOutcome.Grant, 7200],
  ['NAT: SS_ENDPOINT_NAT_EXPIRE', 3600, -1, null, true, 0, { endpointNatExpiresS: 300 }, ExpiryOutcome.Grant, 300],
  ['NAT asking less keeps its ask', 120, -1, null, true, 0, { endpointNatExpiresS: 300 }, ExpiryOutcome.Grant, 120],
  ['jitter takes up to N %', 3600, -1, null, false, 0.5, { expiresJitterPercent: 10 }, ExpiryOutcome.Grant, 3420],
  ['jitter at its largest draw', 3600, -1, null, false, 0.9999, { expiresJitterPercent: 10 }, ExpiryOutcome.Grant, 3241],
  ['jitter never under the minimum', 64, -1, null, false, 0.99, { expiresJitterPercent: 50, endpointMinExpiresS: 60 }, ExpiryOutcome.Grant, 60],
];

t.test('expiry rules', async (t) => {
  const r = new ExpiryResult();
  for (const [name, param, header, acct, nat, random, over, outcome, granted] of rows) {
    computeExpiry(r, param, header, acct, params(over), nat, random);
    t.equal(r.outcome, outcome, `${name}: outcome`);
    t.equal(r.grantedS, granted, `${name}: granted`);
  }
});

t.test('the detail names each rule that applied', async (t) => {
  const r = new ExpiryResult();
  const p = params({ endpointMaxExpiresS: 7200, endpointNatExpiresS: 300, expiresJitterPercent: 10 });
  computeExpiry(r, -1, 9000, null, p, true, 0.5);
  t.equal(describeExpiry(new ByteText(), r, p).toString(), '285 s (asked 9000 s by Expires header, clamped to SS_ENDPOINT_MAX_EXPIRE 7200, NAT: SS_ENDPOINT_NAT_EXPIRE 300, -15 s SS_ENDPOINT_EXPIRE_JITTER)');
});
