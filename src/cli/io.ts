// Where a command writes: `out` for results (stdout), `err` for progress, warnings and errors
// (stderr). Commands take an Io so that tests run them in-process and read what they printed.

export interface Io {
  out(line: string): void;
  err(line: string): void;
}

export const consoleIo: Io = {
  out: (line) => process.stdout.write(line + "\n"),
  err: (line) => process.stderr.write(line + "\n"),
};
