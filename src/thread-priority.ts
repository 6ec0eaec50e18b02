/**
 * The simulator's helper threads (the trace parser, the clairvoyant bound) work ahead of the
 * replay, which is the critical path: on a machine with fewer cores than busy threads they
 * should yield to it. Linux keeps nice values per thread, so a worker can lower its own.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/** Nice value of the simulator's helper threads (0 normal, 19 lowest). */
export const HELPER_THREAD_NICE = 10;

/** Lowers the calling thread's priority; false where the platform cannot (nothing changes). */
export function lowerThisThreadPriority(nice = HELPER_THREAD_NICE): boolean {
  try {
    // "<pid>/task/<tid>": this thread's id, which setpriority() accepts on Linux.
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return false;
    setPriority(tid, nice);
    return true;
  } catch {
    return false;
  }
}
