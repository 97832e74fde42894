import { defineConfig } from "vitest/config";

// Three kinds of test, by file name: *.unit.spec.ts (pure, no I/O), *.int.spec.ts
// (real NATS and other real servers), *.e2e.spec.ts (the real kernel through BPF, as root).
export default defineConfig({
  test: {
    projects: [
      { test: { name: "unit", include: ["**/*.unit.spec.ts"], exclude: ["**/node_modules/**"] } },
      {
        test: {
          name: "int",
          include: ["**/*.int.spec.ts"],
          exclude: ["**/node_modules/**"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["**/*.e2e.spec.ts"],
          exclude: ["**/node_modules/**"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Each e2e file loads its own BPF program; running them one at a time keeps their captures apart.
          fileParallelism: false,
        },
      },
      {
        // The capture e2e files again, with the agent forced onto the syscall-tracepoint fallback
        // (ADI_CAPTURE_HOOKS=syscall through test/support/capture.ts), so CI covers both kernel paths. Files of
        // projects with fileParallelism false (and the default sequence.groupOrder) share vitest's one sequential
        // group: they run one at a time, after the parallel projects, never beside an "e2e" file.
        test: {
          name: "e2e-syscall",
          include: ["services/capture/test/**/*.e2e.spec.ts"],
          exclude: ["**/node_modules/**"],
          env: { ADI_TEST_CAPTURE_HOOKS: "syscall" },
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
