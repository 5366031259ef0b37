/**
 * Free text the service takes and stores (an operator's reason, an actor's name):
 * printable only. A control character (C0, NUL included, DEL, C1) or a lone UTF-16
 * surrogate is refused where the text comes in: PostgreSQL cannot store NUL nor
 * encode a lone surrogate (a 500 before), and a newline or an escape sequence,
 * printed later in a terminal, could draw rows or colours that were never there.
 * Text stored before this rule is printed escaped (escapeText) wherever the CLI
 * shows it.
 */

const CONTROLS = /[\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

const CONTROL = new RegExp(CONTROLS.source);

const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t", "\u001b": "\\e" };

/** true when the text has no control character and no lone surrogate */
export function isPrintableText(text: string): boolean {
  return !CONTROL.test(text);
}

/** The text with every control character and lone surrogate as a visible escape (\n, \e, \u0000, \ud800). */
export function escapeText(text: string): string {
  return text.replace(CONTROLS, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

export const PRINTABLE_ERROR = "must not contain control characters (newlines, tabs, escapes) or lone surrogates";
