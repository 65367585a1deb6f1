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

/**
 * A value a user typed (an argument, a path) as an error shows it: as is when plain printable
 * text, else quoted (an empty string, spaces, a newline).
 */
export function shown(value: string): string {
  return /^[\x21-\x7e]+$/.test(value) ? value : JSON.stringify(value);
}

/** A message on one line: newlines, tabs and other control characters (from file names, say) written as escapes. */
export function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => (c === "\n" ? "\\n" : c === "\r" ? "\\r" : c === "\t" ? "\\t" : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`));
}
