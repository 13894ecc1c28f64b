// DataError: the one error type the data layer throws for bad input files or arguments.
// Its message always starts with the name of the file (or source) it is about, then the problem.

export class DataError extends Error {
  override readonly name = 'DataError';
  /** the file or source the problem is in */
  readonly source: string;

  constructor(source: string, problem: string) {
    super(`${source}: ${problem}`);
    this.source = source;
  }
}

/** Rejects a read range outside [0, size) of a byte source. */
export function checkReadRange(source: string, size: number, offset: number, length: number): void {
  const whole = Number.isSafeInteger(offset) && Number.isSafeInteger(length);
  if (!whole || offset < 0 || length < 0 || offset + length > size) {
    throw new DataError(
      source,
      `read of ${length} bytes at offset ${offset} is outside the source (${size} bytes)`,
    );
  }
}
