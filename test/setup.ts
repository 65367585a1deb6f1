// Global fast-check settings: DINO_REF_NUM_RUNS sets the number of runs per property (CI keeps
// the default; raise it locally to search harder, e.g. DINO_REF_NUM_RUNS=1000 npm test).
import fc from "fast-check";

const numRuns = Number(process.env.DINO_REF_NUM_RUNS ?? "100");
fc.configureGlobal({ numRuns: Number.isFinite(numRuns) && numRuns > 0 ? numRuns : 100 });
