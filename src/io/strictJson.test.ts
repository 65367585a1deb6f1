import { describe, expect, it } from "vitest";
import { brief, parseStrictJson } from "./strictJson.js";

describe("parseStrictJson", () => {
  it("parses what JSON.parse parses when no object repeats a key", () => {
    const text = '{"a": [1, {"b": "x,y:z", "c": {"a": 1}}], "b": "\\"}", "__proto__": 2}';
    const r = parseStrictJson(text, 5);
    expect(r).toEqual({ ok: true, value: JSON.parse(text) });
  });

  it("rejects a key given twice in one object, naming it and the object, also when spelled with escapes", () => {
    expect(parseStrictJson('{"__metadata__": {"format": "a", "op": "b", "format": "c"}}', 3)).toEqual({ ok: false, syntax: false, why: 'the key "format" appears twice in the object "__metadata__"' });
    expect(parseStrictJson('{"a": 1, "\\u0061": 2}', 3)).toMatchObject({ ok: false, why: 'the key "a" appears twice in the top-level object' });
    expect(parseStrictJson('{"t": {"x": {"k": 1, "k": 2}}}', 3)).toMatchObject({ ok: false, why: 'the key "k" appears twice in the object "t.x"' });
    // equal keys in different objects are fine
    expect(parseStrictJson('{"a": {"k": 1}, "b": {"k": 2}}', 3).ok).toBe(true);
  });

  it("rejects nesting deeper than allowed without recursion (200,000 levels)", () => {
    const deep = "[".repeat(200_000) + "]".repeat(200_000);
    expect(parseStrictJson(`{"x": ${deep}}`, 3)).toEqual({ ok: false, syntax: false, why: "nested more than 3 levels deep" });
  });

  it("reports invalid JSON as a syntax error with JSON.parse's message", () => {
    const r = parseStrictJson("{not json", 3);
    expect(r.ok).toBe(false);
    expect(r.ok === false && r.syntax).toBe(true);
  });
});

describe("brief", () => {
  it("shortens long values to one short line", () => {
    expect(brief([1, 2, 3])).toBe("[1,2,3]");
    expect(brief("x".repeat(200))).toHaveLength(80);
    expect(brief(undefined)).toBe("undefined");
  });
});
