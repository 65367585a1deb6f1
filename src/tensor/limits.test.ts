import { describe, expect, it } from "vitest";
import { checkMemory, checkPixels, DEFAULT_LIMITS, formatBytes, parseByteSize, setLimits } from "./limits.js";
import { DinoRefError } from "./errors.js";

describe("limits", () => {
  it("parses --max-memory sizes (powers of 1024) and refuses others", () => {
    expect(parseByteSize("512M")).toBe(512 * 2 ** 20);
    expect(parseByteSize("4G")).toBe(4 * 2 ** 30);
    expect(parseByteSize("1.5GiB")).toBe(1.5 * 2 ** 30);
    expect(parseByteSize("1000")).toBe(1000);
    for (const bad of ["", "-1", "0", "4X", "1e9", "G"]) expect(parseByteSize(bad)).toBeNull();
  });

  it("formats byte counts for people", () => {
    expect(formatBytes(2 ** 30)).toBe("1 GiB");
    expect(formatBytes(1.6e9)).toBe("1.6 GB");
    expect(formatBytes(61440)).toBe("61.4 kB");
    expect(formatBytes(12)).toBe("12 bytes");
  });

  it("names the limit and the option in its errors, and follows setLimits", () => {
    expect(() => checkMemory(2e9, "the attention of x.png", "resize it")).toThrow(DinoRefError);
    expect(() => checkMemory(2e9, "the attention of x.png", "resize it")).toThrow("the attention of x.png would need about 2 GB, above the --max-memory limit of 1 GiB; resize it (or raise --max-memory)");
    expect(() => checkPixels(5000, 5000, "a.png")).toThrow(/^a\.png: 5000×5000 px \(25,000,000 pixels\) is above the --max-pixels limit of 16,777,216 pixels/);
    const previous = setLimits({ maxMemory: 4 * 2 ** 30, maxPixels: 3e7 });
    try {
      checkMemory(2e9, "x");
      checkPixels(5000, 5000, "a.png");
    } finally {
      setLimits(previous);
    }
    expect(previous).toEqual(DEFAULT_LIMITS);
  });
});
