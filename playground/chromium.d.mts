// Types for playground/chromium.mjs (plain JavaScript, so playground/screenshot.mjs runs it in Node).
import type { Browser } from "playwright-core";

export class ChromiumError extends Error {}

export function findChromium(env?: NodeJS.ProcessEnv): Promise<{ executablePath: string; env: NodeJS.ProcessEnv | undefined; source: string }>;

export function launchChromium(): Promise<Browser>;
