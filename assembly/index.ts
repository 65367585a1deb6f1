// The whole wasm ABI of dino-ref, in one list: every exported kernel takes byte pointers into
// this module's memory and element counts, and never allocates. The TypeScript side owns memory
// (src/kernels/arena.ts) and keeps a plain-TypeScript oracle for every kernel (src/kernels/*.ts).

export { heapBase } from "./lanes";
export { fillZero } from "./fill";
export * from "./matmul";
export * from "./softmax";
export * from "./layernorm";
export * from "./gelu";
export * from "./attention";
export * from "./adamw";
export * from "./ema";
export * from "./norms";
// test hooks: exp64 / exp64x2 / log64 on float64 arrays, for the bit-identity tests against the oracle
export { exp64Batch, exp64x2Batch } from "./exp";
export { log64Batch } from "./log";
// test hook: the float32 exp of the attention softmax and GELU
export { exp32x4Batch } from "./exp32";
