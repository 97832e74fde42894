import js from "@eslint/js";
import tseslint from "typescript-eslint";

/**
 * Each package has one public surface (its package.json "exports"): @adi/capture, @adi/classifier, @adi/mapper, @adi/view,
 * @adi/enricher, and @adi/shared with its three named surfaces wire, nats and redaction. Anything else, by package
 * name or by a relative path into another package's src/, is a deep import: refused, so packages meet only through
 * what they chose to export (test/lint/surfaces.unit.spec.ts shows the rule failing).
 */
export const SURFACE_IMPORTS = {
  patterns: [
    {
      regex: "^@adi/(?!shared/(?:wire|nats|redaction)$)[^/]+/.+",
      message: "deep import: use the package's surface (@adi/<package>, or @adi/shared/wire|nats|redaction)",
    },
    {
      // Any relative path that climbs out and enters some directory's src/ (services/x/src, ../classifier/src from a
      // sibling service, ./../../shared/src): a package's own files are reached without naming a package's src/.
      regex: "^(?:\\.\\.?/)+(?:[^/]+/)*[^/.][^/]*/src(?:/|$)",
      message: "relative import into another package's src/: import its surface (@adi/<package>) instead",
    },
    {
      regex: "^/",
      message: "absolute import path: import the package's surface (@adi/<package>) or a relative path in the package",
    },
  ],
};

/** The same rule for import() with a literal path (no-restricted-imports only sees static imports). */
export const SURFACE_DYNAMIC_IMPORTS = SURFACE_IMPORTS.patterns.map(({ regex, message }) => ({
  selector: `ImportExpression[source.value=/${regex.replaceAll("/", "\\/")}/]`,
  message,
}));

export default tseslint.config(
  { ignores: ["**/node_modules/**", "bpf/.output/**", "services/*/native/build/**", ".adi/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: "readonly", console: "readonly", Buffer: "readonly", fetch: "readonly" } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-restricted-imports": ["error", SURFACE_IMPORTS],
      "no-restricted-syntax": ["error", ...SURFACE_DYNAMIC_IMPORTS],
    },
  },
);
