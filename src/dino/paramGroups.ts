// Weight-decay groups (official `utils.py get_params_groups`). Weight decay pulls
// weights towards zero; it is applied to weight matrices (and, in the code, to every parameter of
// 2 or more dimensions) but not to biases and 1-D parameters such as LayerNorm gains, whose scale
// carries meaning and would only be distorted.
//
// Rule of the code: regularized iff the name does NOT end with ".bias" AND ndim ≠ 1. So cls_token
// [1,1,D], pos_embed [1,N+1,D], the patch-embed conv weight, last_layer.weight_v and a trainable
// last_layer.weight_g [K,1] ARE decayed. Callers pass trainable parameters only (the code skips
// requires_grad = False ones, such as a frozen weight_g).

/** True when weight decay applies to this parameter. */
export function isRegularized(name: string, shape: readonly number[]): boolean {
  // decay ⇔ not a bias and not 1-D
  return !name.endsWith(".bias") && shape.length !== 1;
}

/** Splits parameters into the two AdamW groups, keeping their order. */
export function paramGroups<P extends { readonly name: string; readonly shape: readonly number[] }>(params: readonly P[]): { regularized: P[]; notRegularized: P[] } {
  const regularized: P[] = [];
  const notRegularized: P[] = [];
  for (const p of params) (isRegularized(p.name, p.shape) ? regularized : notRegularized).push(p);
  return { regularized, notRegularized };
}
