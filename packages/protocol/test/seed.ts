// One seed for every random choice in the protocol tests, so a run is repeatable.
// FC_SEED=<integer> replays a failure (fast-check prints the seed it used) or tries new ground.
import fc from 'fast-check';

function readSeed(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 20_251_121;
  const seed = Number(raw);
  if (!Number.isSafeInteger(seed)) throw new Error(`FC_SEED must be an integer, got ${JSON.stringify(raw)}`);
  return seed;
}

export const seed = readSeed(process.env.FC_SEED);

fc.configureGlobal({ seed });
