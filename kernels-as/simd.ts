// Helpers shared by the kernel families: the multiply-add every product loop uses.
// Nothing here is exported from the wasm module itself.

/** c + a * b: one fused multiply-add where the build has relaxed SIMD (then x86's FMA), else two ops. */
@inline
export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}
