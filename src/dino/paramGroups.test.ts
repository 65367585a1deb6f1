import { describe, expect, it } from "vitest";
import { isRegularized, paramGroups } from "./paramGroups.js";
import { PARAM_GROUP_EXAMPLES, paramGroupViolations } from "../../test/dinoChecks.js";

describe("paramGroups: decay iff the name does not end with .bias and ndim ≠ 1", () => {
  it("classifies the official grouping's examples (cls_token, pos_embed, conv weight, weight_v and weight_g [K,1] decayed)", () => {
    expect(paramGroupViolations(isRegularized)).toEqual([]);
  });

  it("goes by the '.bias' suffix and the number of dimensions only", () => {
    expect(isRegularized("backbone.blocks.0.attn.relative_position_bias_table", [9, 2])).toBe(true);
    expect(isRegularized("backbone.norm.weight", [8])).toBe(false);
    expect(isRegularized("some.bias", [2, 2])).toBe(false);
    expect(isRegularized("scalar_gain", [])).toBe(true); // 0-d: ndim 0 ≠ 1 (no such parameter in DINO)
  });

  it("keeps the parameters' order within each group", () => {
    const { regularized, notRegularized } = paramGroups(PARAM_GROUP_EXAMPLES);
    expect(regularized.map((p) => p.name)).toEqual(PARAM_GROUP_EXAMPLES.filter((p) => p.regularized).map((p) => p.name));
    expect(notRegularized.map((p) => p.name)).toEqual(PARAM_GROUP_EXAMPLES.filter((p) => !p.regularized).map((p) => p.name));
  });
});
