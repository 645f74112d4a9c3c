/** Keeps the last lines a command printed, for the message when it fails; hands each whole line on. */
export class OutputTail {
  private readonly kept: string[] = [];
  private partial = '';

  constructor(
    private readonly onLine: (line: string) => void = () => undefined,
    private readonly size = 20,
  ) {}

  push(chunk: Buffer): void {
    const text = this.partial + chunk.toString('utf8');
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) {
      this.kept.push(line);
      if (this.kept.length > this.size) this.kept.shift();
      this.onLine(line);
    }
  }

  /** The last `count` non-empty lines, the one not yet ended by a newline included. */
  lines(count = this.size): string[] {
    return [...this.kept, this.partial].filter((l) => l !== '').slice(-count);
  }

  text(): string {
    return this.lines().join('\n');
  }
}
