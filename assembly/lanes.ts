// Small inline helpers shared by the kernels: f32 loads and stores at element offsets, and the
// boundary between the SIMD main loop (4 lanes) and the scalar tail.

/** First free byte after the module's static data: the TypeScript arena starts here. */
export function heapBase(): usize {
  return __heap_base;
}

/** Largest multiple of 4 not above n: the SIMD main loop covers [0, simdLimit(n)). */
// @ts-ignore: decorator
@inline export function simdLimit(n: i32): i32 {
  return n & ~3;
}

// @ts-ignore: decorator
@inline export function ld(ptr: usize, i: i32): f32 {
  return load<f32>(ptr + (<usize>i << 2));
}

// @ts-ignore: decorator
@inline export function st(ptr: usize, i: i32, v: f32): void {
  store<f32>(ptr + (<usize>i << 2), v);
}

// @ts-ignore: decorator
@inline export function ld4(ptr: usize, i: i32): v128 {
  return v128.load(ptr + (<usize>i << 2));
}

// @ts-ignore: decorator
@inline export function st4(ptr: usize, i: i32, v: v128): void {
  v128.store(ptr + (<usize>i << 2), v);
}

/** Sum of the four lanes, in the fixed order ((l0 + l1) + (l2 + l3)). */
// @ts-ignore: decorator
@inline export function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) +
    (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** Lanes 0, 1 of an f32x4 as an f64x2. */
// @ts-ignore: decorator
@inline export function lo2(v: v128): v128 {
  return f64x2.promote_low_f32x4(v);
}

/** Lanes 2, 3 of an f32x4 as an f64x2. */
// @ts-ignore: decorator
@inline export function hi2(v: v128): v128 {
  return f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 2, 3));
}

/** Two f64x2 rounded to float32 and packed as one f32x4 [a0, a1, b0, b1]. */
// @ts-ignore: decorator
@inline export function pack4(a: v128, b: v128): v128 {
  return i32x4.shuffle(f32x4.demote_f64x2_zero(a), f32x4.demote_f64x2_zero(b), 0, 1, 4, 5);
}
