/**
 * The latency distribution for people, read once at the end of a run from its HDR
 * histogram (µs): percentiles, and counts in buckets spaced on a log scale.
 */
import type { JsHistogram } from "hdr-histogram-js";

export type LatencyDistribution = {
  /** `p` 100 is the maximum */
  percentiles: { p: number; ms: number }[];
  /** answered requests whose latency is in (from_ms, to_ms], from the first bucket with any to the last */
  buckets: { from_ms: number; to_ms: number; count: number }[];
};

export const PERCENTILES = [50, 75, 90, 95, 99, 99.9, 100] as const;

// five bounds a decade (1, 2, 3, 5, 7 x 10^k ms) from 10 µs up past the histogram's 120 s:
// fine enough to show a shape, few enough to read as rows on a terminal
const BOUNDS_MS: number[] = [];
for (let k = -2; k <= 5; k++) for (const m of [1, 2, 3, 5, 7]) BOUNDS_MS.push(Number((m * 10 ** k).toPrecision(1)));

const ms = (us: number) => Math.round(us) / 1000;

export function latencyDistribution(h: JsHistogram): LatencyDistribution {
  // a percentile is read as the top of its range of equivalent values, which can pass the true maximum
  const percentiles = PERCENTILES.map((p) => ({ p, ms: ms(Math.min(h.getValueAtPercentile(p), h.maxValue)) }));
  const counts = new Array<number>(BOUNDS_MS.length).fill(0);
  const it = h.recordedValuesIterator;
  it.reset();
  while (it.hasNext()) {
    const v = it.next();
    // a recorded value stands for a range of equivalent values; its lowest decides the bucket
    const valueMs = h.lowestEquivalentValue(v.valueIteratedTo) / 1000;
    let i = BOUNDS_MS.findIndex((b) => valueMs <= b);
    if (i < 0) i = BOUNDS_MS.length - 1;
    counts[i]! += v.countAtValueIteratedTo;
  }
  const first = counts.findIndex((c) => c > 0);
  let last = counts.length - 1;
  while (last > first && counts[last] === 0) last--;
  const buckets =
    first < 0
      ? []
      : counts.slice(first, last + 1).map((count, j) => ({
          from_ms: first + j === 0 ? 0 : BOUNDS_MS[first + j - 1]!,
          to_ms: BOUNDS_MS[first + j]!,
          count,
        }));
  return { percentiles, buckets };
}
