/**
 * Derives the HPACK Huffman code (RFC 7541, Appendix B) from Node's own HTTP/2 stack and writes
 * `src/h2/hpack-huffman-codes.ts`, which the raw HTTP/2 client's header decoder uses.
 *
 * For each symbol Node accepts in a header value (HTAB, 0x20-0x7E, 0x80-0xFF: every symbol a
 * valid field value may hold), a `node:http2` client sends the value `symbol + '0' x 40` to a
 * plain TCP listener here, which reads the HEADERS frame's HPACK block: nghttp2 Huffman-codes
 * that value (it is shorter), so its bits are the symbol's code, then forty known codes of '0',
 * then the 1-bit padding. The code of '0' itself comes first, from a value of thirty '0's.
 * Control characters cannot be sent, so they are absent: a value holding one fails to decode,
 * which is what RFC 9113 asks of a field value containing them anyway.
 *
 *   npm run build && node dist/scripts/gen-hpack-huffman.js
 */
import { writeFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import { endQuietlyOnClosedOutput } from '../src/closed-stdout.js';

// A closed stdout (`| head`) ends the tool quietly (see src/closed-stdout.ts).
endQuietlyOnClosedOutput();

const OUT = fileURLToPath(new URL('../../src/h2/hpack-huffman-codes.ts', import.meta.url));
const CLIENT_PREFACE_BYTES = 24;
const FRAME_HEADER_BYTES = 9;
const FRAME_HEADERS = 1;
const ZEROS = 40;

const waiting: ((block: Buffer) => void)[] = [];
const server = net.createServer((sock) => {
  const deliver = waiting.shift()!;
  let buf = Buffer.alloc(0);
  sock.on('error', () => {});
  sock.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    let off = CLIENT_PREFACE_BYTES;
    while (off + FRAME_HEADER_BYTES <= buf.length) {
      const len = buf.readUIntBE(off, 3);
      if (off + FRAME_HEADER_BYTES + len > buf.length) return;
      if (buf[off + 3] === FRAME_HEADERS) {
        deliver(buf.subarray(off + FRAME_HEADER_BYTES, off + FRAME_HEADER_BYTES + len));
        sock.destroy();
        return;
      }
      off += FRAME_HEADER_BYTES + len;
    }
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as net.AddressInfo).port;

function readInt(b: Buffer, at: { p: number }, prefixBits: number): number {
  const max = (1 << prefixBits) - 1;
  let v = b[at.p++]! & max;
  if (v < max) return v;
  for (let m = 0; ; m += 7) {
    const x = b[at.p++]!;
    v += (x & 127) * 2 ** m;
    if (x < 128) return v;
  }
}

/** The HPACK bytes nghttp2 chose for header value `value` (the block's longest literal value). */
async function encoded(value: string): Promise<{ huffman: boolean; bytes: Buffer }> {
  const got = new Promise<Buffer>((resolve) => waiting.push(resolve));
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  session.request({ ':path': '/', 'x-h': value }).on('error', () => {});
  const block = await got;
  session.destroy();
  const at = { p: 0 };
  let best: { huffman: boolean; bytes: Buffer } | null = null;
  while (at.p < block.length) {
    const b = block[at.p]!;
    if (b & 0x80) {
      readInt(block, at, 7);
      continue;
    }
    if ((b & 0xe0) === 0x20) {
      readInt(block, at, 5);
      continue;
    }
    const nameIndex = readInt(block, at, b & 0x40 ? 6 : 4);
    if (nameIndex === 0) {
      const nameLen = readInt(block, at, 7); // read first: `at.p += readInt(...)` would add to the old position
      at.p += nameLen;
    }
    const huffman = (block[at.p]! & 0x80) !== 0;
    const len = readInt(block, at, 7);
    const bytes = block.subarray(at.p, at.p + len);
    at.p += len;
    if (best === null || len > best.bytes.length) best = { huffman, bytes };
  }
  if (best === null) throw new Error('no literal in the HEADERS block');
  return best;
}

const bitsOf = (b: Buffer): string => [...b].map((x) => x.toString(2).padStart(8, '0')).join('');
const paddingOk = (rest: string): boolean => /^1*$/.test(rest) && rest.length < 8;

const codes = new Map<number, string>();
const zeros = await encoded('0'.repeat(30));
const zb = bitsOf(zeros.bytes);
for (let n = 1; n <= 30 && zeros.huffman; n++) {
  const c = zb.slice(0, n);
  if (c.repeat(30) === zb.slice(0, 30 * n) && paddingOk(zb.slice(30 * n))) {
    codes.set(0x30, c);
    break;
  }
}
if (!codes.has(0x30)) throw new Error("could not derive the code of '0'");
const tail = codes.get(0x30)!.repeat(ZEROS);
const symbols = [0x09];
for (let s = 0x20; s <= 0xff; s++) if (s !== 0x7f) symbols.push(s);
for (const s of symbols) {
  if (s === 0x30) continue;
  const e = await encoded(String.fromCharCode(s) + '0'.repeat(ZEROS));
  if (!e.huffman) throw new Error(`symbol ${s} was not Huffman-coded`);
  const b = bitsOf(e.bytes);
  const fits: number[] = [];
  for (let n = 1; n <= 30; n++) if (b.slice(n, n + tail.length) === tail && paddingOk(b.slice(n + tail.length))) fits.push(n);
  if (fits.length !== 1) throw new Error(`symbol ${s}: ambiguous code length (${fits.join(', ')})`);
  codes.set(s, b.slice(0, fits[0]));
}
server.close();

const rows = [...codes.entries()].sort((a, b) => a[0] - b[0]).map(([s, c]) => `  [${s}, 0x${parseInt(c, 2).toString(16)}, ${c.length}],`);
writeFileSync(OUT, `/**
 * HPACK Huffman code (RFC 7541, Appendix B) of every symbol a valid header value may hold:
 * [symbol, code, bits]. Generated by scripts/gen-hpack-huffman.ts from Node's HTTP/2 stack; do
 * not edit. Control characters are absent (see the script).
 */
export const HPACK_HUFFMAN_CODES: ReadonlyArray<readonly [symbol: number, code: number, bits: number]> = [
${rows.join('\n')}
];
`);
console.log(`wrote ${codes.size} codes to ${OUT}`);
