import type { Writable } from 'node:stream';

/**
 * A spinner on stderr while the login waits for the user. Only on a terminal: piped stderr (CI
 * logs, a parent process capturing it) gets no progress lines at all, just the status lines.
 */
export interface Progress {
  /** Print a status line without tearing the spinner. */
  log(line: string): void;
  stop(): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export function startProgress(io: { stderr: Writable; stderrIsTTY: boolean }, text: string): Progress {
  if (!io.stderrIsTTY) {
    return { log: (line) => io.stderr.write(`${line}\n`), stop: () => undefined };
  }
  let frame = 0;
  const draw = () => io.stderr.write(`\r\x1b[K${FRAMES[frame++ % FRAMES.length] ?? ''} ${text}`);
  const clear = () => io.stderr.write('\r\x1b[K');
  draw();
  const timer = setInterval(draw, 120);
  timer.unref();
  let stopped = false;
  return {
    log(line) {
      clear();
      io.stderr.write(`${line}\n`);
      if (!stopped) draw();
    },
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      clear();
    },
  };
}
