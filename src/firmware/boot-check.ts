// What blesses a boot (sipreg-boot-check.service, before boot-complete.target): the service answers an
// OPTIONS on its own listen address, and its store opened (the heartbeat it writes once it has). Until
// both, the boot is not good; a check that gives up fails the unit, which reboots the box (FailureAction),
// and systemd-boot counts the try down.
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../config/types.js';

/** Sends OPTIONS to host:port every second until any final answer, or the deadline. The first line, or null. */
export async function probeSip(host: string, port: number, deadlineMs: number): Promise<string | null> {
  const family = host.includes(':') ? 'udp6' : 'udp4';
  const sock = dgram.createSocket(family);
  await new Promise<void>((resolve) => sock.bind(0, family === 'udp6' ? '::1' : '127.0.0.1', resolve));
  const local = sock.address();
  const hostPart = family === 'udp6' ? `[${host}]` : host;
  let answer: string | null = null;
  sock.on('message', (buf) => {
    const first = buf.toString('latin1', 0, Math.min(buf.length, 200)).split('\r\n')[0] ?? '';
    if (/^SIP\/2\.0 [2-6]\d\d/.test(first)) answer = first;
  });
  try {
    while (answer === null && Date.now() < deadlineMs) {
      const branch = `z9hG4bK${randomBytes(6).toString('hex')}`;
      const msg = [
        `OPTIONS sip:${hostPart}:${port} SIP/2.0`,
        `Via: SIP/2.0/UDP ${family === 'udp6' ? `[${local.address}]` : local.address}:${local.port};branch=${branch};rport`,
        'Max-Forwards: 70',
        `From: <sip:boot-check@${hostPart}>;tag=${randomBytes(4).toString('hex')}`,
        `To: <sip:${hostPart}:${port}>`,
        `Call-ID: ${randomBytes(8).toString('hex')}@boot-check`,
        'CSeq: 1 OPTIONS',
        'Content-Length: 0',
        '', '',
      ].join('\r\n');
      sock.send(msg, port, host);
      for (let i = 0; i < 10 && answer === null; i++) await sleep(100);
    }
    return answer;
  } finally {
    sock.close();
  }
}

/** The address to probe: the first listen address, its wildcard made loopback. */
export function probeTarget(config: Config): { host: string; port: number } {
  const l = config.sip.listen[0]!;
  const host = l.host === '0.0.0.0' ? '127.0.0.1' : l.host === '::' ? '::1' : l.host;
  return { host, port: l.port };
}
