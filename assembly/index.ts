// The whole wasm ABI of dino-ref, in one list: every exported kernel takes byte pointers into
// this module's memory and element counts, and never allocates. The TypeScript side owns memory
// (src/kernels/arena.ts) and keeps a plain-TypeScript oracle for every kernel (src/kernels/*.ts).

export { heapBase } from "./lanes";
export * from "./matmul";
export * from "./softmax";
export * from "./layernorm";
export * from "./gelu";
export * from "./attention";
export * from "./adamw";
export * from "./ema";
export * from "./norms";
