// Arrays the oracles accept: float32 for normal use, float64 for finite-difference checks.
export type FloatArray = Float32Array | Float64Array;
