/** RFC 4180 CSV: CRLF line ends; a field with a comma, quote or line break is quoted, quotes doubled. */
export function toCsv(header: string[], rows: Array<Array<string | number | null>>): string {
  const field = (v: string | number | null) => {
    const s = v === null ? "" : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [header, ...rows].map((r) => r.map(field).join(",")).join("\r\n") + "\r\n";
}
