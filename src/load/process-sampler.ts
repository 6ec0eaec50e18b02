/**
 * Samples another process's CPU (utime + stime from /proc/PID/stat) and RSS (VmRSS from
 * /proc/PID/status) while a load run is going, to report what the target paid for the load.
 * Linux only; on other systems, or when the process is gone, samples are simply skipped.
 */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

export const PROCESS_SAMPLE_INTERVAL_MS = 250;
/** USER_HZ on every mainstream Linux build; `getconf CLK_TCK` refines it when available. */
export const DEFAULT_CLOCK_TICKS_PER_SEC = 100;

let clockTicks: number | undefined;
function ticksPerSec(): number {
  if (clockTicks === undefined) {
    try {
      const v = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
      clockTicks = v > 0 ? v : DEFAULT_CLOCK_TICKS_PER_SEC;
    } catch {
      clockTicks = DEFAULT_CLOCK_TICKS_PER_SEC;
    }
  }
  return clockTicks;
}

/**
 * utime + stime of `pid` in milliseconds (of its thread `tid` only, when given: the main
 * thread's is `tid = pid`), or undefined if unreadable.
 */
export function readProcessCpuMs(pid: number, tid?: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses: parse after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so utime (14) and stime (15) are at 11 and 12.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return ((utime + stime) * 1000) / ticksPerSec();
}

/** VmRSS of `pid` in MiB, or undefined if unreadable. */
export function readProcessRssMb(pid: number): number | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) / 1024 : undefined;
}

export interface ProcessUsage {
  readonly pid: number;
  /** Mean CPU over the sampled window, in percent of one core (200 = two cores busy). */
  readonly cpuPercent: number;
  /** Highest CPU over any one sampling interval. */
  readonly maxCpuPercent: number;
  readonly cpuMs: number;
  readonly maxRssMb: number;
  readonly lastRssMb: number;
  readonly samples: number;
}

export class ProcessSampler {
  private timer: NodeJS.Timeout | null = null;
  private startCpuMs = 0;
  private startWall = 0;
  private lastCpuMs = 0;
  private lastWall = 0;
  private maxCpuPercent = 0;
  private maxRssMb = 0;
  private lastRssMb = 0;
  private samples = 0;
  private ok = false;

  constructor(readonly pid: number, private readonly intervalMs = PROCESS_SAMPLE_INTERVAL_MS) {}

  start(): void {
    const cpu = readProcessCpuMs(this.pid);
    if (cpu === undefined) return;
    this.ok = true;
    this.startCpuMs = this.lastCpuMs = cpu;
    this.startWall = this.lastWall = performance.now();
    this.sampleRss();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  private sampleRss(): void {
    const rss = readProcessRssMb(this.pid);
    if (rss === undefined) return;
    this.lastRssMb = rss;
    if (rss > this.maxRssMb) this.maxRssMb = rss;
  }

  private sample(): void {
    const cpu = readProcessCpuMs(this.pid);
    const now = performance.now();
    if (cpu === undefined) return;
    const wall = now - this.lastWall;
    // CPU times tick at 10 ms: a short interval (the final one, or a late timer's neighbour)
    // would turn one tick into hundreds of percent. Only full-length intervals count for the max.
    if (wall >= this.intervalMs / 2) {
      const pct = ((cpu - this.lastCpuMs) / wall) * 100;
      if (pct > this.maxCpuPercent) this.maxCpuPercent = pct;
    }
    this.lastCpuMs = cpu;
    this.lastWall = now;
    this.samples++;
    this.sampleRss();
  }

  /** Stops sampling and returns the usage, or undefined if the process could not be read. */
  stop(): ProcessUsage | undefined {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (!this.ok) return undefined;
    this.sample();
    const wall = this.lastWall - this.startWall;
    const cpuMs = this.lastCpuMs - this.startCpuMs;
    return {
      pid: this.pid,
      cpuPercent: wall > 0 ? (cpuMs / wall) * 100 : 0,
      maxCpuPercent: this.maxCpuPercent,
      cpuMs,
      maxRssMb: this.maxRssMb,
      lastRssMb: this.lastRssMb,
      samples: this.samples,
    };
  }
}

/** Host CPU time from the `cpu` line of /proc/stat, in clock ticks: all of it, and the busy part. */
export interface HostCpu {
  readonly total: number;
  readonly busy: number;
}

export function readHostCpu(): HostCpu | undefined {
  let stat: string;
  try {
    stat = readFileSync('/proc/stat', 'utf8');
  } catch {
    return undefined;
  }
  const line = stat.slice(0, stat.indexOf('\n'));
  // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user)
  const f = line.split(/\s+/).slice(1, 9).map(Number);
  if (f.length < 8 || f.some((v) => !Number.isFinite(v))) return undefined;
  const total = f.reduce((a, b) => a + b, 0);
  const idle = f[3]! + f[4]!;
  return { total, busy: total - idle };
}

/** Share of the host's CPU time that was busy between two readings (0-1), NaN if unknown. */
export function hostBusyShare(a: HostCpu | undefined, b: HostCpu | undefined): number {
  if (a === undefined || b === undefined || b.total <= a.total) return NaN;
  return (b.busy - a.busy) / (b.total - a.total);
}
