// The one assertion of src/ (test/tidy.test.ts fails on any other). A broken invariant is a bug, never an
// operating condition: it throws an AssertionError carrying `code: 'ERR_ASSERTION'` (the code node:assert
// uses), which nothing catches; the entry (main.ts) prints it as an internal error and exits 70.
//
// Why not node:assert: its `assert(value, ...message)` takes rest arguments, so a call site that is not
// inlined allocates an array per call, and its message, when none is given, is made by reading the source
// file back (absent from the bundled executable). This one takes exactly two arguments and the message is a
// string literal at every call site, so a holding assertion costs a compare and a branch: nothing is built
// per call on the REGISTER path. A message that needs a value (a length, an index) is made only once the
// condition failed: `if (!ok) throw new AssertionError(`... ${n}`)`.

export class AssertionError extends Error {
  readonly code = 'ERR_ASSERTION';

  constructor(message: string) {
    super(message);
    this.name = 'AssertionError';
  }
}

/** Throws AssertionError(message) unless condition holds; narrows like node:assert's `asserts value`. */
export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}
