// The paths of one (source, destination, method), folded by cardinality into routes.
//
// Paths are kept as a tree of segments (`/user/ann/posts` is "" → "user" → "ann" → "posts"). A position (one
// node's children: the segments seen after one prefix) lists its values as seen until it has more than
// `maxValues` distinct ones; then all of them, and every later one, are one parameter: `/user/{param}`, or
// `/ratings/{id}` when every value folded there looked like an id (observation.ts, ID_SEGMENT). That is the
// rule whatever the values look like (user names, search terms, file names), so a tree holds at most
// `maxValues` + 1 children per node: its size is the API's, not the data's.
//
// The tree is a function of the SET of paths added, not of their order or grouping: a node folds iff the paths
// through it have more than `maxValues` distinct next segments, a folded node absorbs anything later, and two
// trees merge into the tree of the union of their paths (merge() re-applies the rule as it unions). So the live
// mapper, a restarted one and a replay, each adding the same calls in its own order, and the per-service tree
// merged from per-process trees (gunicorn's 8 workers), all show the same routes (routes.unit.spec.ts).
import { isIdSegment } from "./observation.ts";

/**
 * Placeholders, OpenAPI path-template style: a position whose folded values all looked like ids, and any other;
 * a second one in the same path is {id2}, {param2}, and so on.
 */
export const ID_PARAM = "{id}";
export const ANY_PARAM = "{param}";

/** Distinct values one position lists before it becomes a parameter (the Go tool listed paths as seen). */
export const DEFAULT_MAX_SEGMENT_VALUES = 20;

/**
 * Distinct variants (body schema pairs) one route lists before they are one: bodies whose keys are data (a JSON
 * object keyed by user names) would otherwise make a variant per call.
 */
export const DEFAULT_MAX_VARIANTS = 16;

/** The variant key of a route's variants once folded. */
export const FOLDED_VARIANT = "*";

/** How values combine, and what a value becomes when its variant is folded with the others. */
export interface RouteValues<V> {
  /** Sums two values of one variant: commutative, associative, and must not mutate its arguments (values are shared). */
  combine: (a: V, b: V) => V;
  /** The value as part of the folded variant (e.g. its schemas replaced by "varies"). */
  fold: (value: V) => V;
}

interface RouteNode<V> {
  /**
   * Next segments as seen, until more than maxValues: then null, and `param` holds them all. NO_LITERALS (shared,
   * never written) until the first: most nodes are leaves (the ids of /items/{id} before they fold), and an empty
   * Map each was a third of the mapper's tallies at 10,000 exchanges/s from many clients (issue 12, measured).
   */
  literals: Map<string, RouteNode<V>> | null;
  param: RouteNode<V> | null;
  /** Every value folded into `param` looked like an id. */
  paramIsId: boolean;
  /** Calls whose path ends here, by variant key (e.g. the body schemas); one FOLDED_VARIANT once more than maxVariants. */
  ends: Map<string, V> | null;
  endsFolded: boolean;
}

/** One route and what ended there: the path with placeholders, the variant key, its value. */
export interface RouteEntry<V> {
  path: string;
  variant: string;
  value: V;
}

/**
 * A tree of paths folded by cardinality: more than `maxValues` distinct segments at one position become one
 * parameter, more than `maxVariants` variants of one route become one (FOLDED_VARIANT). RangeError below 1.
 */
export class RouteTree<V> {
  readonly #root: RouteNode<V> = emptyNode();
  readonly #maxValues: number;
  readonly #maxVariants: number;
  readonly #values: RouteValues<V>;

  constructor(values: RouteValues<V>, maxValues = DEFAULT_MAX_SEGMENT_VALUES, maxVariants = DEFAULT_MAX_VARIANTS) {
    if (!(maxValues >= 1)) throw new RangeError(`maxValues must be at least 1, got ${maxValues}`);
    if (!(maxVariants >= 1)) throw new RangeError(`maxVariants must be at least 1, got ${maxVariants}`);
    this.#values = values;
    this.#maxValues = maxValues;
    this.#maxVariants = maxVariants;
  }

  /** Adds one call: its path (as the map shows it: no query), its variant key and value. */
  add(path: string, variant: string, value: V): void {
    let node = this.#root;
    for (const segment of path.split("/")) node = this.#child(node, segment);
    this.#addEnd(node, variant, value);
  }

  /** Adds everything `other` holds (left unchanged): the result is the tree of both trees' paths. */
  merge(other: RouteTree<V>): void {
    this.#mergeInto(this.#root, other.#root);
  }

  /** Every route with what ended there, depth first (callers sort). */
  entries(): RouteEntry<V>[] {
    const out: RouteEntry<V>[] = [];
    const walk = (node: RouteNode<V>, prefix: string[], ids: number, anys: number) => {
      if (node.ends) for (const [variant, value] of node.ends) out.push({ path: prefix.join("/"), variant, value });
      if (node.literals) for (const [segment, child] of node.literals) walk(child, [...prefix, segment], ids, anys);
      if (!node.param) return;
      // OpenAPI wants the parameters of one path template named apart: {id}, then {id2}, {id3}...
      const [base, n] = node.paramIsId ? [ID_PARAM, ids] : [ANY_PARAM, anys];
      const name = n === 0 ? base : `${base.slice(0, -1)}${n + 1}}`;
      walk(node.param, [...prefix, name], ids + (node.paramIsId ? 1 : 0), anys + (node.paramIsId ? 0 : 1));
    };
    walk(this.#root, [], 0, 0);
    // The root's own ends are the empty path; a path always has at least one segment (split gives [""]).
    return out;
  }

  /** Nodes plus ends held: what the tree costs, for tests that bound memory by the API, not the data. */
  size(): number {
    let n = 0;
    const walk = (node: RouteNode<V>) => {
      n += 1 + (node.ends?.size ?? 0);
      if (node.literals) for (const child of node.literals.values()) walk(child);
      if (node.param) walk(node.param);
    };
    walk(this.#root);
    return n;
  }

  /** The child for `segment`, created (and the position folded if that makes too many values). */
  #child(node: RouteNode<V>, segment: string): RouteNode<V> {
    if (node.literals === null) {
      node.paramIsId &&= isIdSegment(segment);
      return node.param!;
    }
    let child = node.literals.get(segment);
    if (child) return child;
    if (node.literals === NO_LITERALS) node.literals = new Map();
    node.literals.set(segment, (child = emptyNode()));
    if (node.literals.size <= this.#maxValues) return child;
    this.#fold(node);
    return node.param!;
  }

  /** Turns a position's literal values into its parameter: their subtrees merged into one. */
  #fold(node: RouteNode<V>): void {
    const literals = node.literals!;
    node.literals = null;
    node.param = emptyNode();
    node.paramIsId = true;
    for (const [segment, child] of literals) {
      node.paramIsId &&= isIdSegment(segment);
      this.#mergeInto(node.param, child);
    }
  }

  /** Unions `source`'s paths into `target` (copying: `source` is not changed nor shared). */
  #mergeInto(target: RouteNode<V>, source: RouteNode<V>): void {
    // A folded source had more than maxVariants variants here: the union folds too.
    if (source.endsFolded) this.#foldEnds(target);
    if (source.ends) for (const [variant, value] of source.ends) this.#addEnd(target, variant, value);
    // A folded source means more than maxValues values here: the union folds too.
    if (source.literals === null && target.literals !== null) this.#fold(target);
    if (source.literals === null) {
      target.paramIsId &&= source.paramIsId;
      this.#mergeInto(target.param!, source.param!);
      return;
    }
    for (const [segment, child] of source.literals) this.#mergeInto(this.#child(target, segment), child);
  }

  #addEnd(node: RouteNode<V>, variant: string, value: V): void {
    const { combine, fold } = this.#values;
    node.ends ??= new Map();
    if (node.endsFolded) {
      // Already folded: every variant (the folded one included: fold is idempotent on it) sums into one.
      const folded = variant === FOLDED_VARIANT ? value : fold(value);
      const known = node.ends.get(FOLDED_VARIANT);
      node.ends.set(FOLDED_VARIANT, known === undefined ? folded : combine(known, folded));
      return;
    }
    const known = node.ends.get(variant);
    node.ends.set(variant, known === undefined ? value : combine(known, value));
    if (node.ends.size > this.#maxVariants) this.#foldEnds(node);
  }

  #foldEnds(node: RouteNode<V>): void {
    if (node.endsFolded) return;
    const ends = node.ends ?? new Map<string, V>();
    node.ends = new Map();
    node.endsFolded = true;
    for (const [variant, value] of ends) this.#addEnd(node, variant, value);
  }
}

/** The literals of a node without children yet: read only (#child replaces it before the first set). */
const NO_LITERALS: Map<string, never> = new Map<string, never>();

function emptyNode<V>(): RouteNode<V> {
  return { literals: NO_LITERALS, param: null, paramIsId: true, ends: null, endsFolded: false };
}
