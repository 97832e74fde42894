// Least privilege for the capture agent: once its BPF programs are loaded and attached (and the ring buffer is
// mapped), the process keeps only the capabilities it still uses, in every one of its threads.
#pragma once

#include <string>
#include <vector>

namespace adi {

struct CapabilityDrop {
  // Asked for and held: what every thread's effective, permitted and bounding sets now are.
  std::vector<std::string> kept;
  // Held before and given up (permitted set before minus kept), in capability-number order.
  std::vector<std::string> dropped;
  // Asked for but not held: nothing to keep (an agent started with fewer capabilities).
  std::vector<std::string> not_held;
  // False when the bounding set could not be reduced (no CAP_SETPCAP), or nothing was done at all.
  bool bounding = false;
  // False when the process held no capability at all: nothing was changed (not even no_new_privs).
  bool changed = false;
  // Threads whose credentials were changed, the calling one included.
  unsigned threads = 0;
  // Thread ids that still had other credentials when the time ran out (empty unless something went wrong).
  std::vector<int> unchanged_threads;
};

// Keeps `keep` (names like "CAP_SYS_PTRACE", as capabilities(7) spells them) and drops every other capability
// from the effective, permitted, inheritable, bounding and ambient sets, and sets no_new_privs, in all the
// threads of the process: Linux keeps credentials per thread (capset(2) changes only the caller's), so the other
// threads are made to do the same from a signal handler, as glibc does for setuid(2) (its SIGSETXID). Throws
// std::invalid_argument for an unknown name, std::runtime_error when the calling thread's own change fails.
// An unprivileged process (no permitted capability) is left untouched.
CapabilityDrop DropCapabilities(const std::vector<std::string>& keep);

}  // namespace adi
