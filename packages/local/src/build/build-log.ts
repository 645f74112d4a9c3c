/**
 * The build's log: stepline's own lines, worded and stamped like CodeBuild's `[Container]` lines so a
 * CodeBuild user reads them at a glance, and the commands' output as it comes. Everything is masked
 * before it reaches the file or the terminal.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import type { MaskingStream, SecretMasker } from './secret-masker';

export class BuildLog {
  private readonly file: WriteStream;
  private masker: SecretMasker;
  private readonly onOutput: ((text: string) => void) | undefined;
  private readonly open: Array<MaskingStream> = [];
  private fileError: Error | undefined;

  constructor(path: string, masker: SecretMasker, onOutput?: (text: string) => void) {
    mkdirSync(dirname(path), { recursive: true });
    this.file = createWriteStream(path, { flags: 'w', mode: 0o600 });
    // A log that cannot be written (its directory removed, a full disk) must not end the build:
    // the output still reaches the terminal.
    this.file.on('error', (error) => {
      this.fileError ??= error;
    });
    this.masker = masker;
    this.onOutput = onOutput;
  }

  /** Secrets become known once the buildspec is read: from then on they are masked too. */
  useMasker(masker: SecretMasker): void {
    this.masker = masker;
  }

  /** One line of stepline's own, e.g. `Entering phase BUILD`; `fileOnly` for what the caller shows its own way. */
  line(text: string, options: { fileOnly?: boolean } = {}): void {
    const line = `[Container] ${timestamp(new Date())} ${this.masker.mask(text)}\n`;
    if (options.fileOnly) this.writeFile(line);
    else this.emit(line);
  }

  /** A sink for one output stream of a command; `end()` flushes what it held back. */
  output(): { write(chunk: string): void; end(): void } {
    const stream = this.masker.stream();
    this.open.push(stream);
    return {
      write: (chunk) => this.emit(stream.write(chunk)),
      end: () => {
        const index = this.open.indexOf(stream);
        if (index >= 0) this.open.splice(index, 1);
        this.emit(stream.end());
      },
    };
  }

  async close(): Promise<void> {
    for (const stream of this.open.splice(0)) this.emit(stream.end());
    if (this.fileError) return;
    await new Promise<void>((resolve) => {
      this.file.once('error', () => resolve());
      this.file.end(resolve);
    });
  }

  private emit(text: string): void {
    if (text === '') return;
    this.writeFile(text);
    this.onOutput?.(text);
  }

  private writeFile(text: string): void {
    if (!this.fileError) this.file.write(text);
  }
}

/** `2024/05/01 09:30:00.123`, in UTC as CodeBuild's logs are. */
function timestamp(date: Date): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return (
    `${date.getUTCFullYear()}/${pad(date.getUTCMonth() + 1)}/${pad(date.getUTCDate())} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}.${pad(date.getUTCMilliseconds(), 3)}`
  );
}
