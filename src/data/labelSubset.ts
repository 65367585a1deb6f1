// Few labels (the paper's low-shot evaluation with 1% and 10% of ImageNet's labels): a fixed,
// class-balanced subset of a training split, chosen from a seed. Class c's training images are
// permuted by Rng(seed, STREAM.labelSubset, key = c) and the first n_c taken, n_c as equal as the
// total allows (the first classes get one more when it does not divide). A larger subset of the
// same seed contains every smaller one (1% ⊂ 10%).

import { DinoRefError } from "../tensor/errors.js";
import { Rng, STREAM } from "../tensor/rng.js";

/** How many labelled images `--labels` asks for: "1%", "10%", any "P%" (0 < P ≤ 100) or a count N. */
export function labelCount(spec: string, trainSize: number, numClasses: number): number {
  const text = spec.trim();
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(text);
  let n: number;
  if (percent !== null) {
    const p = Number(percent[1]);
    if (!(p > 0 && p <= 100)) throw new DinoRefError(`--labels ${spec}: expected a percentage in (0%, 100%]`);
    // round(P% of the training images), at least one per class
    n = Math.max(numClasses, Math.round((p / 100) * trainSize));
  } else if (/^\d+$/.test(text)) {
    n = Number(text);
  } else {
    throw new DinoRefError(`--labels ${JSON.stringify(spec)}: expected a percentage such as 1% or 10%, or a number of labelled images`);
  }
  if (!(Number.isSafeInteger(n) && n >= numClasses && n <= trainSize)) {
    throw new DinoRefError(`--labels ${spec}: ${n} labelled images; expected at least one per class (${numClasses}) and at most the ${trainSize} training images`);
  }
  return n;
}

/**
 * Indices (ascending) of `n` training images, class-balanced: ⌊n/C⌋ per class plus one for the
 * first n mod C classes, each class's images taken in the order of its seeded permutation.
 */
export function classBalancedSubset(labels: ArrayLike<number>, numClasses: number, n: number, seed: number): Int32Array {
  const members: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (!(Number.isInteger(y) && y >= 0 && y < numClasses)) throw new DinoRefError(`label ${y} of image ${i}; expected a class in [0, ${numClasses})`);
    members[y].push(i);
  }
  const out: number[] = [];
  for (let c = 0; c < numClasses; c++) {
    const want = Math.floor(n / numClasses) + (c < n % numClasses ? 1 : 0);
    if (want > members[c].length) throw new DinoRefError(`${n} labelled images need ${want} of class ${c}, which has ${members[c].length} training images`);
    const perm = new Rng(seed, STREAM.labelSubset, c).permutation(members[c].length);
    for (let k = 0; k < want; k++) out.push(members[c][perm[k]]);
  }
  return Int32Array.from(out).sort();
}
