/**
 * All-pairs test cases: every pair of values of any two options appears in at least one case.
 * Greedy (each new case takes, option by option, the value covering most uncovered pairs); a few
 * dozen lines, so no dependency.
 */
export function pairwise<T extends Record<string, readonly unknown[]>>(domains: T): { [K in keyof T]: T[K][number] }[] {
  const keys = Object.keys(domains);
  const uncovered = new Set<string>();
  const pairKey = (a: string, i: number, b: string, j: number): string => (a < b ? `${a}=${i}|${b}=${j}` : `${b}=${j}|${a}=${i}`);
  keys.forEach((a, x) => keys.slice(x + 1).forEach((b) => domains[a]!.forEach((_, i) => domains[b]!.forEach((__, j) => uncovered.add(pairKey(a, i, b, j))))));
  const cases: Record<string, number>[] = [];
  while (uncovered.size) {
    const [first] = uncovered;
    const seed = Object.fromEntries(first!.split('|').map((p) => p.split('=')).map(([k, v]) => [k!, Number(v)]));
    const c: Record<string, number> = { ...seed };
    for (const k of keys) {
      if (k in c) continue;
      let best = 0, bestGain = -1;
      domains[k]!.forEach((_, i) => {
        const gain = Object.entries(c).filter(([k2, j]) => uncovered.has(pairKey(k, i, k2, j))).length;
        if (gain > bestGain) [best, bestGain] = [i, gain];
      });
      c[k] = best;
    }
    keys.forEach((a, x) => keys.slice(x + 1).forEach((b) => uncovered.delete(pairKey(a, c[a]!, b, c[b]!))));
    cases.push(c);
  }
  return cases.map((c) => Object.fromEntries(keys.map((k) => [k, domains[k]![c[k]!]]))) as { [K in keyof T]: T[K][number] }[];
}
