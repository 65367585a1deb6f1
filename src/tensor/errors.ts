// The one error type a user sees: it names the file, tensor or argument at fault and what was
// expected. The CLI prints `dino-ref: <message>` and exits 2; it never shows a stack trace for it.

export class DinoRefError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DinoRefError";
  }
}

/** Throws a DinoRefError with `message` unless `condition` holds. */
export function check(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new DinoRefError(typeof message === "string" ? message : message());
}
