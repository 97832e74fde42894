// RouteTree: paths folded by cardinality, whatever the values look like, as a function of the set of paths.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RouteTree } from "../src/core/routes.ts";
import { nextState, shuffle } from "../../../test/support/shuffle.ts";

const sum = { combine: (a: number, b: number) => a + b, fold: (v: number) => v };
const tree = (paths: readonly string[], maxValues = 20) => {
  const t = new RouteTree<number>(sum, maxValues);
  for (const p of paths) t.add(p, "", 1);
  return t;
};
/** Entries as sorted [path, count]: what a map lists. */
const listing = (t: RouteTree<number>) => t.entries().map((e) => [e.path, e.variant, e.value] as const).sort((a, b) => (a[0] + a[1] < b[0] + b[1] ? -1 : 1));

/** Deterministic pseudo-random letters (no Math.random: the test must be reproducible). */
function letters(seed: number, n: number): string {
  let state = seed >>> 0 || 1;
  let out = "";
  for (let i = 0; i < n; i++) {
    state = nextState(state);
    out += String.fromCharCode(97 + (state % 26));
  }
  return out;
}

describe("RouteTree", () => {
  it("lists up to maxValues values of a position as seen, and folds the next one with all of them", () => {
    const ids = Array.from({ length: 20 }, (_, i) => `/ratings/${i}`);
    expect(listing(tree(ids)).map(([p]) => p)).toEqual([...ids].sort());
    expect(listing(tree([...ids, "/ratings/20"]))).toEqual([["/ratings/{id}", "", 21]]);
  });

  it("folds 10,000 distinct /user/<random letters> into one route, holding a handful of nodes", () => {
    const t = new RouteTree<number>(sum, 20);
    for (let i = 0; i < 10_000; i++) t.add(`/user/${letters(i + 1, 8 + (i % 5))}`, "", 1);
    expect(listing(t)).toEqual([["/user/{param}", "", 10_000]]);
    // root, "", "user", {param} and its one end: the size of the API, not of the data.
    expect(t.size()).toBeLessThanOrEqual(6);
  });

  it("names the parameter {id} only when every value folded there looked like an id", () => {
    const ids = Array.from({ length: 25 }, (_, i) => `/items/${1000 + i}`);
    expect(listing(tree(ids))[0]![0]).toBe("/items/{id}");
    expect(listing(tree([...ids, "/items/new"]))[0]![0]).toBe("/items/{param}");
    const uuids = Array.from({ length: 25 }, (_, i) => `/objects/3f2504e0-4f89-41d3-9a0c-${String(i).padStart(12, "0")}`);
    expect(listing(tree(uuids))[0]![0]).toBe("/objects/{id}");
  });

  it("keeps what follows a folded position apart: /user/{param} and /user/{param}/posts", () => {
    const paths = Array.from({ length: 30 }, (_, i) => `/user/${letters(i + 7, 6)}`).flatMap((p) => [p, `${p}/posts`]);
    expect(listing(tree(paths))).toEqual([["/user/{param}", "", 30], ["/user/{param}/posts", "", 30]]);
  });

  it("folds a deeper position on its own prefix: search terms under /search/<lang>/", () => {
    const paths = ["en", "de"].flatMap((lang) => Array.from({ length: 40 }, (_, i) => `/search/${lang}/${letters(i + 3, 5)}`));
    expect(listing(tree(paths))).toEqual([["/search/de/{param}", "", 40], ["/search/en/{param}", "", 40]]);
  });

  it("names several parameters of one path apart, as OpenAPI wants: /a/{id}/b/{id2}/{param}", () => {
    const paths = Array.from({ length: 25 }, (_, i) => `/a/${i}/b/${100 + i}/${letters(i + 1, 6)}`);
    expect(listing(tree(paths, 3))).toEqual([["/a/{id}/b/{id2}/{param}", "", 25]]);
  });

  it("keeps variants (the body schemas) of one route apart and sums each", () => {
    const t = new RouteTree<number>(sum, 2);
    for (const [p, v] of [["/a/1", "x"], ["/a/2", "y"], ["/a/3", "x"], ["/a/4", "x"]] as const) t.add(p, v, 1);
    expect(listing(t)).toEqual([["/a/{id}", "x", 3], ["/a/{id}", "y", 1]]);
  });

  it("leaves the tree merged from unchanged", () => {
    const a = tree(["/a/1", "/a/2"], 2);
    const b = tree(["/a/3"], 2);
    const before = listing(b);
    a.merge(b);
    expect(listing(a)).toEqual([["/a/{id}", "", 3]]);
    expect(listing(b)).toEqual(before);
    b.add("/a/9", "", 1);
    expect(listing(a)).toEqual([["/a/{id}", "", 3]]);
  });

  it("is a function of the set of paths: any order, any split into trees merged, gives the same routes", () => {
    // A small alphabet and maxValues 3 make folds (and folds of merged subtrees) frequent.
    const segment = fc.constantFrom("a", "b", "c", "d", "e", "1", "2", "3", "4", "x9");
    const path = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => `/${s.join("/")}`);
    fc.assert(
      fc.property(fc.array(path, { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 5 }), fc.integer(), (paths, parts, seed) => {
        const expected = listing(tree(paths, 3));
        const shuffled = shuffle(paths, seed);
        expect(listing(tree(shuffled, 3))).toEqual(expected);
        // As per-process trees merged per service: each part in its own tree, merged in some order.
        const trees = Array.from({ length: parts }, () => new RouteTree<number>(sum, 3));
        shuffled.forEach((p, i) => trees[(i * 7 + (seed >>> 0)) % parts]!.add(p, "", 1));
        const merged = new RouteTree<number>(sum, 3);
        for (const t of shuffle(trees, seed ^ 0x5a5a)) merged.merge(t);
        expect(listing(merged)).toEqual(expected);
        // The total count is every call, whatever folded.
        expect(expected.reduce((n, [, , c]) => n + c, 0)).toBe(paths.length);
      }),
      { seed: 1010, numRuns: 400 },
    );
  });

  it("folds more than maxVariants variants of a route into one, as a function of the set too", () => {
    const folding = { combine: (a: number, b: number) => a + b, fold: (v: number) => v };
    const call = fc.tuple(fc.constantFrom("/a/1", "/a/2", "/a/3", "/b", "/b/x"), fc.constantFrom("s1", "s2", "s3", "s4"));
    fc.assert(
      fc.property(fc.array(call, { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 4 }), fc.integer(), (calls, parts, seed) => {
        const build = (cs: readonly (readonly [string, string])[]) => {
          const t = new RouteTree<number>(folding, 2, 2);
          for (const [p, v] of cs) t.add(p, v, 1);
          return t;
        };
        const expected = listing(build(calls));
        expect(listing(build(shuffle(calls, seed)))).toEqual(expected);
        const merged = new RouteTree<number>(folding, 2, 2);
        for (let k = 0; k < parts; k++) merged.merge(build(calls.filter((_, i) => i % parts === k)));
        expect(listing(merged)).toEqual(expected);
        // More than two variants at one route: one "*" entry carrying every call there.
        for (const [path] of expected) {
          const variants = expected.filter(([p]) => p === path);
          expect(variants.length <= 2 || variants.every(([, v]) => v === "*")).toBe(true);
        }
      }),
      { seed: 2020, numRuns: 300 },
    );
  });

  it("refuses a threshold below 1", () => {
    expect(() => new RouteTree<number>(sum, 0)).toThrow(RangeError);
  });
});
