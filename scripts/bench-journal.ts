/**
 * What the slot journal costs a shard thread per warm Assign+Idle pair: the two records it
 * appends (Assigned, Released) and its share of one group-commit `write` per event-loop turn, at
 * the batch sizes the shards see (1 pair per turn at light load, tens under load). Same loop
 * without the journal in the same run, as the baseline; the file is on the journal's default
 * file system (the temp dir), and the run checks that every pair reached it.
 *
 *   node dist/scripts/bench-journal.js [--seconds 2] [--batches 1,4,16,64] [--json]
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { JournalFile } from '../src/journal/journal-file.js';
import { readJournalFile } from '../src/journal/journal-reader.js';
import { JournalState } from '../src/journal/journal-state.js';
import { endQuietlyOnClosedOutput } from '../src/closed-stdout.js';

// A closed stdout (`| head`) ends the tool quietly (see src/closed-stdout.ts).
endQuietlyOnClosedOutput();

/** Live instances the pairs rotate over, and distinct request ids (made before timing). */
export const BENCH_INSTANCES = 1_000;
const REQUEST_IDS = 65_536;

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '2' },
    batches: { type: 'string', default: '1,4,16,64' },
    json: { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
const batches = values.batches.split(',').map(Number);
if (!(seconds > 0) || batches.some((b) => !(b >= 1))) {
  console.error('usage: bench-journal [--seconds S] [--batches 1,4,16,64] [--json]');
  process.exit(2);
}

const iids = Array.from({ length: BENCH_INSTANCES }, (_, i) => `1a2b3c-0.0-${i.toString(36)}`);
// Shaped like the load generator's and the contest's request ids.
const rids = Array.from({ length: REQUEST_IDS }, (_, i) => `c0ffee12-${i}-${(i * 2654435761) >>> 0}`);

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

interface Result {
  readonly batch: number;
  readonly pairs: number;
  readonly cpuUsPerPair: number;
  readonly baselineCpuUsPerPair: number;
  readonly journalCpuUsPerPair: number;
  readonly writes: number;
  readonly bytesPerPair: number;
  readonly compactions: number;
  readonly fileBytesAtEnd: number;
}

/** Runs `pair` in a tight loop for `seconds`, calling `turn` every `batch` pairs. */
function loop(batch: number, pair: (i: number) => void, turn: () => void): { pairs: number; cpu: number } {
  const deadline = performance.now() + seconds * 1000;
  const c0 = cpuUs();
  let i = 0;
  while (performance.now() < deadline) {
    for (let k = 0; k < 256; k++) {
      pair(i++);
      if (i % batch === 0) turn();
    }
  }
  return { pairs: i, cpu: cpuUs() - c0 };
}

function run(batch: number): Result {
  const dir = mkdtempSync(join(tmpdir(), 'bench-journal-'));
  try {
    const path = join(dir, 'shard-0.journal');
    const j = JournalFile.open({ path, shard: 0, shards: 1, platform: '127.0.0.1:50051' }).file!;
    for (let n = 0; n < BENCH_INSTANCES; n++) {
      j.creating(`c${n}`);
      j.created(`c${n}`, `slot-${n}`, 256);
      j.initBegun(`slot-${n}`, iids[n]!, `fn-${n % 16}`, 'go', 60, 256);
      j.ready(`slot-${n}`);
    }
    j.flush();
    const w0 = j.writes;
    const b0 = j.bytesWritten;
    // Baseline: the same loop and id lookups with nothing journaled.
    let sink = 0;
    const base = loop(
      batch,
      (i) => {
        sink += iids[i % BENCH_INSTANCES]!.length + rids[i & (REQUEST_IDS - 1)]!.length;
      },
      () => sink++,
    );
    const withJ = loop(
      batch,
      (i) => {
        const iid = iids[i % BENCH_INSTANCES]!;
        const rid = rids[i & (REQUEST_IDS - 1)]!;
        j.assigned(iid, rid);
        j.released(iid, rid);
      },
      () => j.flush(),
    );
    j.flush();
    const writes = j.writes - w0;
    const bytes = j.bytesWritten - b0;
    const fileBytesAtEnd = statSync(path).size;
    const compactions = j.compactions;
    j.close(false);
    // The path measured is the journal's: what it wrote reads back as the live instances, all idle.
    const st = new JournalState();
    const read = readJournalFile(path, st);
    if (read.corrupt !== null || st.size !== BENCH_INSTANCES || [...st.slots.values()].some((s) => s.busyRequestId !== '')) {
      throw new Error(`journal does not read back as ${BENCH_INSTANCES} idle instances (${st.size}, ${read.corrupt?.message ?? 'no error'})`);
    }
    if (sink < 0) console.log(sink);
    const cpuUsPerPair = withJ.cpu / withJ.pairs;
    const baselineCpuUsPerPair = base.cpu / base.pairs;
    return {
      batch,
      pairs: withJ.pairs,
      cpuUsPerPair,
      baselineCpuUsPerPair,
      journalCpuUsPerPair: cpuUsPerPair - baselineCpuUsPerPair,
      writes,
      bytesPerPair: bytes / withJ.pairs,
      compactions,
      fileBytesAtEnd,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const results = batches.map(run);
if (values.json) console.log(JSON.stringify({ bench: 'journal', seconds, results }));
else {
  console.log(`slot journal, ${BENCH_INSTANCES} live instances, Assigned + Released per pair, one write per batch (${tmpdir()}):\n`);
  console.log('| pairs per write | journal CPU per pair | loop baseline | bytes per pair | writes/s | compactions | file at end |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    console.log(
      `| ${r.batch} | ${r.journalCpuUsPerPair.toFixed(2)} us | ${r.baselineCpuUsPerPair.toFixed(3)} us | ${r.bytesPerPair.toFixed(0)} | ` +
        `${Math.round(r.writes / seconds)} | ${r.compactions} | ${(r.fileBytesAtEnd / 2 ** 20).toFixed(1)} MiB |`,
    );
  }
}
