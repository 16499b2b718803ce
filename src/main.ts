/** sipreg: wiring only. Everything else lives in its domain folder. */
import { main } from './cli/index.js';

main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // A programmer error (failed assertion, bug): say it plainly and let the service manager restart us.
    process.stderr.write(`sipreg: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 70;
  },
);
