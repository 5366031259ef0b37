#!/usr/bin/env node
// Where a profiled process's time went while it was measured: a V8 CPU profile written
// by `PROFILE=1 node bench/cpu.mjs` and the measured stretch beside it
// (<profile>.window.json, CLOCK_MONOTONIC µs, the clock of the profile's timestamps), so
// start-up, module loading and warm-up are left out. Prints the busy samples' self time
// by kind (native calls such as writev, garbage collection, Node's own JavaScript, the
// dependencies, the service's code), then the top functions by self and by inclusive time.
// V8's profiler samples the JavaScript thread's stack on a clock, whether the thread is on
// a CPU or not: a system call's share (writev) includes the time the thread waited inside
// it (another process scheduled meanwhile), so these are shares of the thread's busy wall
// time, not of its CPU; `perf record` on the process gives CPU (bench/README.md).
//   node bench/profile-window.mjs <profile.cpuprofile> [top (25)]
// Without a window file: the whole profile.
import fs from "node:fs";

const [file, topArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write("usage: node bench/profile-window.mjs <profile.cpuprofile> [top]\n");
  process.exit(2);
}
const TOP = Number(topArg ?? 25);
const p = JSON.parse(fs.readFileSync(file, "utf8"));
const w = fs.existsSync(`${file}.window.json`)
  ? JSON.parse(fs.readFileSync(`${file}.window.json`, "utf8"))
  : { start_us: p.startTime, end_us: p.endTime };

const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const short = (url) => {
  const m = url.lastIndexOf("/node_modules/");
  if (m >= 0) return url.slice(m + 1);
  return url.replace(/^.*?\/(dist|bench)\//, "$1/");
};
const name = (n) => {
  const f = n.callFrame;
  const where = f.url ? ` ${short(f.url)}:${f.lineNumber + 1}` : "";
  return `${f.functionName || "(anonymous)"}${where}`;
};
const kind = (n) => {
  const { url, functionName } = n.callFrame;
  if (functionName === "(garbage collector)") return "garbage collection";
  if (functionName === "(program)") return "V8 and native, unattributed";
  if (!url) return `native: ${functionName || "(anonymous)"}`;
  if (url.startsWith("node:")) return "Node's JavaScript (node:*)";
  if (url.includes("/node_modules/")) return "dependencies (node_modules)";
  return "this code (dist, bench)";
};

const self = new Map();
const incl = new Map();
const kinds = new Map();
let busy = 0;
let idle = 0;
const add = (m, k) => m.set(k, (m.get(k) ?? 0) + 1);
let t = p.startTime;
p.samples.forEach((id, i) => {
  t += p.timeDeltas[i];
  if (t < w.start_us || t > w.end_us) return;
  const n = byId.get(id);
  if (n.callFrame.functionName === "(idle)") return void idle++;
  busy++;
  add(self, name(n));
  add(kinds, kind(n));
  const seen = new Set();
  for (let x = id; x !== undefined; x = parent.get(x)) {
    const k = name(byId.get(x));
    if (seen.has(k)) continue;
    seen.add(k);
    add(incl, k);
  }
});
const pct = (v) => `${((100 * v) / busy).toFixed(1).padStart(5)}%`;
const list = (m, top) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, v]) => `${pct(v)}  ${k}`)
    .join("\n");
console.log(`${file}\nmeasured ${((w.end_us - w.start_us) / 1e3).toFixed(0)} ms: ${busy} busy samples, ${idle} idle`);
console.log(`\nself time by kind:\n${list(kinds, 12)}`);
console.log(`\nself time, top ${TOP}:\n${list(self, TOP)}`);
incl.delete("(root)");
console.log(`\ninclusive time, top ${TOP}:\n${list(incl, TOP)}`);
