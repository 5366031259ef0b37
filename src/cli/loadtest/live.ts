/**
 * The progress line while the load runs on a terminal: rewritten each second with
 * that second's rate and errors, the time, and a sparkline of the seconds so far.
 */
import chalk from "chalk";
import type { Tick } from "./run.js";
import { sparkline } from "./terminalCharts.js";

const num = (n: number) => Math.round(n).toLocaleString();

/** The line for one tick, `history` being the req/s of the last ticks; less than `columns` wide. */
export function liveLine(t: Tick, durationSec: number, history: number[], columns: number): string {
  const rps = t.interval_s > 0 ? t.requests / t.interval_s : 0;
  const eps = t.interval_s > 0 ? t.errors / t.interval_s : 0;
  const parts = [
    `${Math.min(durationSec, Math.round(t.elapsed_s))}/${durationSec} s`.padStart(11),
    `${num(rps).padStart(8)} req/s`,
    `errors ${num(eps).padStart(5)}/s`,
    `${num(t.total_requests)} answered`,
  ];
  const plain = parts.join("   ");
  const room = columns - plain.length - 4;
  const spark = room >= 8 ? "  " + sparkline(history.slice(-Math.min(room, 60)), undefined, "▁") : "";
  const colored = [
    chalk.dim(parts[0]),
    chalk.cyan(parts[1]),
    eps > 0 ? chalk.red(parts[2]) : chalk.dim(parts[2]),
    chalk.dim(parts[3]),
  ].join("   ");
  return (plain.length > columns - 1 ? plain.slice(0, columns - 1) : colored) + chalk.cyan(spark);
}

export type Live = { tick: (t: Tick) => void; stop: () => void };

/** Writes the line over itself on `stream` (a terminal); stop() clears it for what follows. */
export function startLive(stream: NodeJS.WriteStream, durationSec: number): Live {
  const history: number[] = [];
  let shown = 0;
  // \r and spaces rather than escape sequences to erase: any terminal, TERM=dumb too
  const write = (line: string) => {
    const visible = line.replace(/\u001b\[[0-9;]*m/g, "").length;
    stream.write("\r" + line + " ".repeat(Math.max(0, shown - visible)));
    shown = visible;
  };
  return {
    tick(t) {
      history.push(t.interval_s > 0 ? t.requests / t.interval_s : 0);
      if (history.length > 60) history.shift();
      write(liveLine(t, durationSec, history, stream.columns || 80));
    },
    stop() {
      if (shown > 0) {
        write("");
        stream.write("\r");
      }
    },
  };
}
