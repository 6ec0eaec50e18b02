import { describe, expect, it } from 'vitest';
import { DurationError, formatDuration, parseDuration } from '../src/duration.js';

describe('parseDuration', () => {
  it.each([
    ['1500ms', 1500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['4h', 14_400_000],
    ['1d', 86_400_000],
    ['1h30m', 5_400_000],
    ['2m30s', 150_000],
    ['1.5s', 1500],
    ['0s', 0],
    [' 10s ', 10_000],
  ])('reads %s as %i ms', (raw, ms) => {
    expect(parseDuration('--x', raw)).toBe(ms);
  });

  it('refuses a bare number, saying which units it accepts', () => {
    expect(() => parseDuration('--tail', '30')).toThrow(DurationError);
    expect(() => parseDuration('--tail', '30')).toThrow(/--tail "30" has no unit.*ms, s, m, h or d/);
  });

  it.each(['', 's', '5 m', '5min', '-5s', '5s3', 'abc', '1e3ms'])('refuses %j', (raw) => {
    expect(() => parseDuration('--x', raw)).toThrow(DurationError);
  });

  it('formats what it parses back to the same value', () => {
    for (const ms of [0, 250, 1500, 30_000, 90_000, 300_000, 5_400_000, 86_400_000 + 1_000]) {
      expect(parseDuration('--x', formatDuration(ms))).toBe(ms);
    }
    expect(formatDuration(90_000)).toBe('1m30s');
  });
});
