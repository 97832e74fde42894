// Running a command as `nobody` from tests, wherever CI cloned the checkout. CI may clone under a directory that
// nobody cannot search (/root), and Node itself may be the one in the checkout's node_modules: the command then
// runs in a mount namespace of its own where the checkout is bind-mounted under a 0755 directory of the system's
// tmp, and every argument naming a file of the checkout is rewritten to that mount. Permission checks apply to the
// path walked, so no mode of the clone or its parents is changed (nothing that is not ours is chmod'ed).
import { chmodSync, mkdtempSync, rmdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** The checkout's root directory. */
export const REPO = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");

let mountDir: string | undefined;

/** The (empty, 0755) directory the checkout is bind-mounted on inside each command's own mount namespace. */
export function checkoutMount(): string {
  if (!mountDir) {
    mountDir = mkdtempSync(join(tmpdir(), "adi-checkout-"));
    chmodSync(mountDir, 0o755);
    process.once("exit", () => {
      // Never recursive: were the bind mount visible here, a recursive removal would delete the checkout.
      try {
        rmdirSync(mountDir!);
      } catch {
        // already gone, or (never expected) not empty: left alone
      }
    });
  }
  return mountDir;
}

/** `path` as seen under the bind mount when it is inside the checkout; other paths unchanged. */
export function mountedPath(path: string): string {
  return path === REPO || path.startsWith(REPO + sep) ? checkoutMount() + path.slice(REPO.length) : path;
}

export interface NobodyOptions {
  /** Supplementary groups (gids); none by default. */
  groups?: readonly number[];
}

/**
 * The command line that runs `argv` as nobody:nogroup (util-linux setpriv: the pid stays the one spawned, every
 * step execs) with the checkout reachable: `{ cmd: "unshare", args: [...] }`, to hand to spawn/spawnSync/execFile.
 * Arguments inside the checkout (process.execPath of the checkout's Node, bin/adi, a test script) are rewritten.
 * Needs root (unshare --mount, mount --bind). Spawn it with a cwd outside the checkout (e.g. /tmp): the working
 * directory is inherited as it is, and Node looks for a package.json from there up.
 */
export function asNobody(argv: readonly string[], opts: NobodyOptions = {}): { cmd: string; args: string[] } {
  const groups = opts.groups ?? [];
  const setpriv = ["setpriv", "--reuid=nobody", "--regid=nogroup", groups.length ? `--groups=${groups.join(",")}` : "--clear-groups"];
  return {
    cmd: "unshare",
    args: [
      "--mount",
      "--propagation",
      "private",
      "--",
      "/bin/sh",
      "-c",
      'mount --bind "$1" "$2" && shift 2 && exec "$@"',
      "sh",
      REPO,
      checkoutMount(),
      ...setpriv,
      ...argv.map(mountedPath),
    ],
  };
}
