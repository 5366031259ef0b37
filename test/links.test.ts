/**
 * The documentation's links: every relative Markdown link in README.md, docs/*.md
 * and bench/README.md names a file or folder of this repository (resolved from the
 * linking file), nothing points outside the repository, and every #anchor names a
 * heading of the Markdown file it points into (GitHub's slugs). No server, no
 * database: files only.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./helpers/cli.js";
import { engine } from "./helpers/env.js";

const DOC_FILES = [
  "README.md",
  ...fs
    .readdirSync(path.join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => `docs/${f}`),
  "bench/README.md",
];

/** Text that names a place outside the repository (the contract lives beside it, not in it). */
const OUTSIDE = [/\.\.\/shared\b/, /\/work\/shared\b/, /\bCONTRACT\.md\b/];

type Link = { line: number; target: string };

/** Lines outside fenced code blocks, with their 1-based numbers; inline code spans blanked. */
function proseLines(text: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  let fence: string | undefined;
  text.split("\n").forEach((raw, i) => {
    const open = /^ {0,3}(`{3,}|~{3,})/.exec(raw);
    if (fence) {
      if (open && open[1]![0] === fence[0] && open[1]!.length >= fence.length && raw.trim() === open[1]) {
        fence = undefined;
      }
      return;
    }
    if (open) {
      fence = open[1];
      return;
    }
    out.push({ line: i + 1, text: raw.replace(/(`+)(?:(?!\1).)+?\1/g, (m) => " ".repeat(m.length)) });
  });
  return out;
}

/** Inline links and images, reference definitions, and href/src of inline HTML. */
function linksOf(text: string): Link[] {
  const links: Link[] = [];
  for (const { line, text: l } of proseLines(text)) {
    for (const m of l.matchAll(/\]\(\s*(<[^>]*>|[^)\s]*)(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g)) {
      links.push({ line, target: m[1]!.replace(/^<(.*)>$/, "$1") });
    }
    const def = /^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)/.exec(l);
    if (def) links.push({ line, target: def[1]!.replace(/^<(.*)>$/, "$1") });
    for (const m of l.matchAll(/\b(?:href|src)\s*=\s*"([^"]*)"/g)) links.push({ line, target: m[1]! });
  }
  return links;
}

/** The text a heading renders to: links to their text, no code marks, emphasis or HTML. */
function headingText(raw: string): string {
  return raw
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/<[^>]+>/g, "")
    .replace(/`/g, "")
    .replace(/\*+|~~/g, "")
    .replace(/(^|[^\p{L}\p{N}_])_+([^_]+?)_+(?=[^\p{L}\p{N}_]|$)/gu, "$1$2");
}

/** GitHub's heading ids: lower case, punctuation removed, spaces to hyphens, -1, -2... on repeats. */
function githubSlug(heading: string): string {
  return headingText(heading)
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
    .replace(/ /g, "-");
}

const anchorCache = new Map<string, Set<string>>();

/** The anchors a Markdown file offers: its headings' slugs, and ids/names of inline HTML. */
function anchorsOf(file: string): Set<string> {
  const cached = anchorCache.get(file);
  if (cached) return cached;
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const add = (heading: string) => {
    const slug = githubSlug(heading);
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  };
  const source = fs.readFileSync(file, "utf8");
  const lines = proseLines(source);
  const raw = source.split("\n");
  lines.forEach(({ line, text }) => {
    const atx = /^ {0,3}#{1,6}(?:\s+(.*?))?(?:\s+#+)?\s*$/.exec(raw[line - 1]!);
    if (atx) add(atx[1] ?? "");
    else if (/^ {0,3}(=+|-+)\s*$/.test(text) && line > 1) {
      const prev = lines.find((p) => p.line === line - 1);
      if (prev && prev.text.trim() !== "" && !/^ {0,3}([-*_])(\s*\1){2,}\s*$/.test(prev.text)) {
        add(raw[line - 2]!.trim());
      }
    }
    for (const m of text.matchAll(/<[a-z][^>]*\b(?:id|name)\s*=\s*"([^"]+)"/gi)) anchors.add(m[1]!);
  });
  anchorCache.set(file, anchors);
  return anchors;
}

function inside(p: string): boolean {
  const rel = path.relative(ROOT, p);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/** Every problem with one documentation file's links, as "file:line: (link) what is wrong". */
function problemsOf(doc: string): string[] {
  const file = path.join(ROOT, doc);
  const text = fs.readFileSync(file, "utf8");
  const problems: string[] = [];
  text.split("\n").forEach((l, i) => {
    for (const re of OUTSIDE) {
      const m = re.exec(l);
      if (m) problems.push(`${doc}:${i + 1}: "${m[0]}" names a place outside the repository`);
    }
  });
  for (const { line, target } of linksOf(text)) {
    const where = `${doc}:${line}: (${target})`;
    if (/^(https?:|mailto:)/i.test(target)) continue;
    if (target === "") {
      problems.push(`${where} is empty`);
      continue;
    }
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//")) {
      problems.push(`${where} is neither a relative path nor an http(s) or mailto link`);
      continue;
    }
    const hash = target.indexOf("#");
    const rawPath = (hash === -1 ? target : target.slice(0, hash)).replace(/\?.*$/, "");
    const anchor = hash === -1 ? undefined : target.slice(hash + 1);
    let decoded: string;
    try {
      decoded = decodeURIComponent(rawPath);
    } catch {
      problems.push(`${where} is not a valid URL path`);
      continue;
    }
    // "/x" is the repository's root on GitHub; anything else is relative to the linking file
    const resolved =
      decoded === ""
        ? file
        : decoded.startsWith("/")
          ? path.join(ROOT, decoded)
          : path.resolve(path.dirname(file), decoded);
    if (!inside(resolved)) {
      problems.push(`${where} resolves outside the repository`);
      continue;
    }
    if (!fs.existsSync(resolved)) {
      problems.push(`${where} does not exist (${path.relative(ROOT, resolved)})`);
      continue;
    }
    if (!inside(fs.realpathSync(resolved))) {
      problems.push(`${where} is a link to outside the repository`);
      continue;
    }
    if (anchor !== undefined && resolved.endsWith(".md") && fs.statSync(resolved).isFile()) {
      let name: string;
      try {
        name = decodeURIComponent(anchor);
      } catch {
        name = anchor;
      }
      if (!anchorsOf(resolved).has(name)) {
        problems.push(`${where} has no heading #${name} in ${path.relative(ROOT, resolved)}`);
      }
    }
  }
  return problems;
}

// files only: one project is enough
describe.skipIf(engine !== "pglite")("links in the documentation", () => {
  it("reads the documentation files", () => {
    for (const doc of DOC_FILES) expect(fs.existsSync(path.join(ROOT, doc)), doc).toBe(true);
    expect(DOC_FILES).toContain("docs/api.md");
  });

  it("makes GitHub's heading slugs", () => {
    expect(githubSlug("When the database is away")).toBe("when-the-database-is-away");
    expect(githubSlug("Holds: two-phase payments")).toBe("holds-two-phase-payments");
    expect(githubSlug("`GET /api/events/v1` (long poll)")).toBe("get-apieventsv1-long-poll");
    expect(githubSlug("Errors & codes, v2.0")).toBe("errors--codes-v20");
    expect(githubSlug("[Idempotency](#x) and snake_case")).toBe("idempotency-and-snake_case");
  });

  it.each(DOC_FILES)("%s: links resolve inside the repository, anchors to headings", (doc) => {
    expect(problemsOf(doc)).toEqual([]);
  });
});
