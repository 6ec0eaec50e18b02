/** A header block that cannot be decoded: a connection error (COMPRESSION_ERROR) in HTTP/2. */
export class HpackError extends Error {
  readonly code = 'HPACK_MALFORMED';
  constructor(message: string) {
    super(message);
    this.name = 'HpackError';
  }
}
