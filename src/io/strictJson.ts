// JSON from files we did not write, parsed strictly: JSON.parse keeps the LAST of two equal keys
// in an object, so a duplicate (a second "format" in a safetensors header, a second "lr" in a
// config) would silently change what the file says. This scan finds duplicates and over-deep
// nesting without recursion, so a hostile file cannot overflow the stack either.

/** A JSON value, or why the text is not acceptable: invalid JSON (JSON.parse's message), or valid JSON with a duplicate key or too deep. */
export type StrictJson = { ok: true; value: unknown } | { ok: false; syntax: boolean; why: string };

/**
 * Parses `text` as JSON and rejects an object with two equal keys (compared after unescaping) or
 * nesting deeper than `maxDepth` objects and arrays.
 */
export function parseStrictJson(text: string, maxDepth: number): StrictJson {
  const problem = scanKeys(text, maxDepth);
  if (problem !== null) return { ok: false, syntax: false, why: problem };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    return { ok: false, syntax: true, why: (e as Error).message.split("\n")[0] };
  }
}

/** The first duplicate key or too-deep nesting in `text`, or null. Invalid JSON is left to JSON.parse. */
function scanKeys(text: string, maxDepth: number): string | null {
  // one frame per open object or array: the keys seen so far (objects) and whether a key comes next
  const stack: { keys: Set<string> | null; expectKey: boolean; path: string; lastKey: string | null }[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "{" || c === "[") {
      if (stack.length >= maxDepth) return `nested more than ${maxDepth} levels deep`;
      const parent = stack[stack.length - 1];
      const path = parent === undefined ? "" : parent.lastKey === null ? parent.path : parent.path === "" ? parent.lastKey : `${parent.path}.${parent.lastKey}`;
      stack.push({ keys: c === "{" ? new Set() : null, expectKey: c === "{", path, lastKey: null });
    } else if (c === "}" || c === "]") {
      stack.pop();
    } else if (c === ",") {
      const top = stack[stack.length - 1];
      if (top?.keys) top.expectKey = true;
    } else if (c === ":") {
      const top = stack[stack.length - 1];
      if (top) top.expectKey = false;
    } else if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top?.keys && top.expectKey) {
        let key: string;
        try {
          key = JSON.parse(text.slice(i, j + 1)) as string;
        } catch {
          return null; // a malformed string: JSON.parse says so
        }
        if (top.keys.has(key)) return `the key ${JSON.stringify(key)} appears twice in ${top.path === "" ? "the top-level object" : `the object ${JSON.stringify(top.path)}`}`;
        top.keys.add(key);
        top.lastKey = key;
      }
      i = j;
    }
  }
  return null;
}

/** A value as short JSON for an error message: at most `max` characters. */
export function brief(value: unknown, max = 80): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
