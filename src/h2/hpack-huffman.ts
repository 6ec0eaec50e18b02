/**
 * Decoding of HPACK Huffman-coded strings (RFC 7541, section 5.2) with a binary trie built once
 * from the generated code table.
 */
import { HPACK_HUFFMAN_CODES } from './hpack-huffman-codes.js';
import { HpackError } from './hpack-error.js';

/** Trie nodes as pairs [child on 0, child on 1]; 0 = no child, negative = leaf -(symbol + 1). */
const trie = buildTrie();

function buildTrie(): Int32Array {
  const nodes: number[] = [0, 0];
  for (const [symbol, code, bits] of HPACK_HUFFMAN_CODES) {
    let node = 0;
    for (let i = bits - 1; i >= 0; i--) {
      const slot = node * 2 + ((code >>> i) & 1);
      if (i === 0) {
        nodes[slot] = -(symbol + 1);
      } else {
        if (nodes[slot] === 0) {
          nodes[slot] = nodes.length / 2;
          nodes.push(0, 0);
        }
        node = nodes[slot]!;
      }
    }
  }
  return Int32Array.from(nodes);
}

/** Reused output buffer: header strings are short. */
let out = Buffer.allocUnsafe(256);

/** The string Huffman-coded in `buf[start, end)` (latin1, as HTTP/2 field values are bytes). */
export function decodeHuffman(buf: Buffer, start: number, end: number): string {
  if (out.length < (end - start) * 2) out = Buffer.allocUnsafe((end - start) * 2);
  let n = 0;
  let node = 0;
  /** Bits read since the last symbol, and whether all were ones (the EOS prefix). */
  let pending = 0;
  let allOnes = true;
  for (let i = start; i < end; i++) {
    const byte = buf[i]!;
    for (let b = 7; b >= 0; b--) {
      const bit = (byte >>> b) & 1;
      const next = trie[node * 2 + bit]!;
      pending++;
      if (bit === 0) allOnes = false;
      if (next < 0) {
        out[n++] = -next - 1;
        node = 0;
        pending = 0;
        allOnes = true;
      } else if (next === 0) {
        throw new HpackError('invalid Huffman code (or a control character)');
      } else {
        node = next;
      }
    }
  }
  // Padding: the most significant bits of EOS (all ones), strictly shorter than 8 bits.
  if (pending > 7 || !allOnes) throw new HpackError('invalid Huffman padding');
  return out.toString('latin1', 0, n);
}
