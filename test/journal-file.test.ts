/**
 * The slot journal file: records survive a reopen as the state they add up to; one write per
 * event-loop turn; a torn last frame is dropped wherever the write was cut; corruption is a typed
 * error with the file and offset, the readable prefix is kept and the file set aside; a file of
 * another platform is set aside unread; compaction keeps the state and bounds the file.
 */
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { JournalErrorCode } from '../src/journal/journal-error.js';
import { FRAME_HEADER_BYTES, SlotPhase } from '../src/journal/journal-format.js';
import { JournalFile, type JournalFileOptions } from '../src/journal/journal-file.js';
import { readJournalFile } from '../src/journal/journal-reader.js';
import { JournalState } from '../src/journal/journal-state.js';

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

function opts(extra: Partial<JournalFileOptions> = {}): JournalFileOptions {
  const d = mkdtempSync(join(tmpdir(), 'journal-file-'));
  dirs.push(d);
  return { path: join(d, 'shard-0.journal'), shard: 0, shards: 2, platform: '127.0.0.1:50051', ...extra };
}

function open(o: JournalFileOptions): JournalFile {
  const { file, report } = JournalFile.open(o);
  expect(report.error).toBeNull();
  return file!;
}

/** One slot through its life up to `ready`, as the journaling platform writes it. */
function readySlot(j: JournalFile, n: number, key = 'fn'): void {
  j.creating(`i${n}-c0`);
  j.created(`i${n}-c0`, `slot-${n}`, 256);
  j.initBegun(`slot-${n}`, `i${n}`, key, 'go', 60, 256);
  j.ready(`slot-${n}`);
}

/** Frame boundaries of a file (offsets where each frame starts, and its end). */
function frames(path: string): number[] {
  const buf = readFileSync(path);
  const out: number[] = [];
  for (let off = 0; off < buf.length; off += FRAME_HEADER_BYTES + buf.readUInt32LE(off)) out.push(off);
  out.push(buf.length);
  return out;
}

describe('JournalFile', () => {
  it('reopens as the state its records add up to', () => {
    const o = opts();
    const j = open(o);
    readySlot(j, 1);
    readySlot(j, 2);
    readySlot(j, 3);
    j.assigned('i1', 'r1'); // held at the "crash"
    j.assigned('i2', 'r2');
    j.released('i2', 'r2'); // idle
    j.assigned('i2', 'r3');
    j.released('i2', 'r2'); // a stale release (r2 no longer holds it): no effect
    j.retired('slot-3');
    j.creating('i4-c0'); // unanswered
    j.creating('i5-c0');
    j.createEnded('i5-c0'); // failed
    j.creating('i6-c0');
    j.created('i6-c0', 'slot-6', 128); // created, Init never began
    j.retired('slot-7'); // unknown slot: ignored
    j.destroyed('slot-8');
    j.flush();
    const { file, report } = JournalFile.open(o);
    expect(report.error).toBeNull();
    expect(report.tornBytes).toBe(0);
    expect(report.lostCreates).toBe(1);
    const by = new Map(report.slots.map((s) => [s.slotId, s]));
    expect([...by.keys()].sort()).toEqual(['slot-1', 'slot-2', 'slot-3', 'slot-6']);
    expect(by.get('slot-1')).toEqual({ slotId: 'slot-1', memoryMb: 256, phase: SlotPhase.Ready, instanceId: 'i1', key: 'fn', runtime: 'go', timeoutInSecs: 60, busyRequestId: 'r1' });
    expect(by.get('slot-2')?.busyRequestId).toBe('r3');
    expect(by.get('slot-3')?.phase).toBe(SlotPhase.Retired);
    expect(by.get('slot-6')).toMatchObject({ phase: SlotPhase.Created, instanceId: '', memoryMb: 128 });
    // The reopened file starts as a snapshot of that state, and destroys remove slots from it.
    file!.destroyed('slot-3');
    file!.destroyed('slot-6');
    file!.flush();
    const again = JournalFile.open(o).report;
    expect(again.slots.map((s) => s.slotId).sort()).toEqual(['slot-1', 'slot-2']);
    expect(again.lostCreates).toBe(0);
  });

  it('commits an event-loop iteration of records with one write, and writes CreateSlot and DestroySlot intents at once', async () => {
    const j = open(opts());
    readySlot(j, 1);
    const afterCreate = j.writes; // `creating` flushed on its own
    expect(afterCreate).toBe(1);
    for (let i = 0; i < 500; i++) {
      j.assigned('i1', `r${i}`);
      j.released('i1', `r${i}`);
    }
    expect(j.writes).toBe(afterCreate);
    await Promise.resolve();
    expect(j.writes).toBe(afterCreate); // not per microtask ...
    await new Promise((r) => setImmediate(r));
    expect(j.writes).toBe(afterCreate + 1); // ... once per event-loop iteration
    j.retired('slot-1');
    expect(j.writes).toBe(afterCreate + 2);
    j.retired('slot-1'); // once per slot
    expect(j.writes).toBe(afterCreate + 2);
  });

  it('drops a torn last frame, wherever the write was cut, and keeps every frame before it', () => {
    const o = opts();
    const j = open(o);
    readySlot(j, 1);
    j.flush();
    j.assigned('i1', 'r1');
    j.flush();
    const good = statSync(o.path).size;
    // The frame being written when the process died.
    j.released('i1', 'r1');
    j.assigned('i1', 'r2');
    j.initBegun('slot-9', 'i9', 'fn', 'go', 60, 256);
    j.close(false);
    expect(frames(o.path).slice(-2)[0]).toBe(good);
    const full = readFileSync(o.path);
    for (let cut = good + 1; cut < full.length; cut++) {
      writeFileSync(o.path, full.subarray(0, cut));
      const { report, file } = JournalFile.open(o);
      expect(report.error).toBeNull();
      expect(report.tornBytes).toBe(cut - good);
      expect(report.slots.map((s) => [s.slotId, s.busyRequestId])).toEqual([['slot-1', 'r1']]);
      file!.close(false);
    }
  });

  it('reports corruption before the last frame as JOURNAL_CORRUPT with file and offset, keeps the prefix and sets the file aside', () => {
    const o = opts();
    const j = open(o);
    readySlot(j, 1);
    j.flush();
    const bad = statSync(o.path).size; // the `assigned` frame: not the last one
    j.assigned('i1', 'r1');
    j.flush();
    readySlot(j, 2);
    j.close(false);
    expect(frames(o.path)).toContain(bad);
    const buf = readFileSync(o.path);
    buf[bad + FRAME_HEADER_BYTES + 2]! ^= 0xff;
    writeFileSync(o.path, buf);
    const { file, report } = JournalFile.open(o);
    expect(report.error?.code).toBe(JournalErrorCode.Corrupt);
    expect(report.error?.file).toBe(o.path);
    expect(report.error?.offset).toBe(bad);
    expect(report.error?.message).toContain(`${o.path}: frame checksum mismatch`);
    expect(report.error?.message).toContain(`(offset ${bad})`);
    expect(report.slots.map((s) => [s.slotId, s.busyRequestId])).toEqual([['slot-1', '']]);
    expect(report.setAsideTo).not.toBeNull();
    expect(readFileSync(report.setAsideTo!)).toEqual(buf);
    // A fresh, readable journal took its place.
    expect(file).not.toBeNull();
    file!.close(false);
    expect(JournalFile.open(o).report.error).toBeNull();
  });

  it('refuses garbage that is not a journal, and a journal of another platform, setting both aside', () => {
    const o = opts();
    writeFileSync(o.path, Buffer.from('not a journal at all, just some text that is long enough'));
    const garbage = JournalFile.open(o).report;
    expect(garbage.error?.code).toBe(JournalErrorCode.Corrupt);
    expect(garbage.error?.offset).toBe(0);
    expect(garbage.slots).toEqual([]);

    expect(garbage.setAsideTo).toMatch(/\.corrupt-\d+$/);

    const p = opts();
    const j = open({ ...p, platform: '10.0.0.9:50051' });
    readySlot(j, 1);
    j.close(false);
    const foreign = JournalFile.open(p).report;
    expect(foreign.error?.code).toBe(JournalErrorCode.Foreign);
    expect(foreign.slots).toEqual([]);
    expect(foreign.setAsideTo).toMatch(/\.foreign-\d+$/);
    expect(readdirSync(dirname(p.path)).filter((n) => n.includes('.foreign-')).length).toBe(1);
  });

  it('reports a journal it cannot read as JOURNAL_UNREADABLE and does not touch it', () => {
    const o = opts();
    mkdirSync(o.path); // a directory where the file should be
    const { file, report } = JournalFile.open(o);
    expect(file).toBeNull();
    expect(report.error?.code).toBe(JournalErrorCode.Unreadable);
    expect(report.error?.message).toContain(o.path);
    expect(statSync(o.path).isDirectory()).toBe(true);
  });

  it('compacts: the file stays bounded and reopens as the same state', () => {
    const o = opts({ compactMinBytes: 4096, compactGrowthFactor: 2 });
    const j = open(o);
    for (let n = 0; n < 20; n++) readySlot(j, n, `fn-${n % 3}`);
    for (let round = 0; round < 2_000; round++) {
      const n = round % 20;
      j.assigned(`i${n}`, `r${round}`);
      j.flush();
      if (round % 7 !== 0) j.released(`i${n}`, `r${round}`);
      j.flush();
    }
    expect(j.compactions).toBeGreaterThan(10);
    expect(statSync(o.path).size).toBeLessThan(4096 * 3 + 8192);
    const live = new Map([...j.state.slots.values()].map((s) => [s.slotId, { ...s }]));
    j.close(false);
    const { report } = JournalFile.open(o);
    expect(new Map(report.slots.map((s) => [s.slotId, s]))).toEqual(live);
  });

  it('is removed by a clean close when nothing is left alive, and kept otherwise', () => {
    const o = opts();
    const j = open(o);
    readySlot(j, 1);
    j.retired('slot-1');
    j.close(true);
    expect(existsSync(o.path)).toBe(true);
    const k = JournalFile.open(o).file!;
    k.destroyed('slot-1');
    k.close(true);
    expect(existsSync(o.path)).toBe(false);
  });
});

describe('readJournalFile', () => {
  it('treats a file extended with zeros (never written) as a torn tail', () => {
    const o = opts();
    const j = open(o);
    readySlot(j, 1);
    j.close(false);
    const size = statSync(o.path).size;
    appendFileSync(o.path, Buffer.alloc(64));
    const st = new JournalState();
    const r = readJournalFile(o.path, st);
    expect(r.corrupt).toBeNull();
    expect(r.tornBytes).toBe(64);
    expect(r.validBytes).toBe(size);
    expect(st.size).toBe(1);
  });

  it('reads a missing file as an empty journal', () => {
    const o = opts();
    expect(readJournalFile(o.path, new JournalState())).toMatchObject({ exists: false, header: null, frames: 0, corrupt: null });
  });
});
