import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "reference-tests/**/*.test.ts", "test/**/*.test.ts", "playground/**/*.test.ts"],
    setupFiles: ["./test/setup.ts"],
    globalSetup: ["./test/globalSetup.ts"],
    testTimeout: 60_000,
    // hooks too (vitest's default is 10 s): test/segment.test.ts's beforeAll trains a tiny network,
    // which took longer than 10 s on a loaded 2-core machine
    hookTimeout: 120_000,
    pool: "forks",
  },
});
