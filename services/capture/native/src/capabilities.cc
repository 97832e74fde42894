#include "capabilities.h"

#include <dirent.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>

namespace adi {
namespace {

// capabilities(7) numbering (include/uapi/linux/capability.h): index = capability number. Capabilities of a newer
// kernel (above the last one named here, up to /proc/sys/kernel/cap_last_cap) are never kept, so always dropped.
constexpr const char* kCapabilityNames[] = {
    "CAP_CHOWN",           "CAP_DAC_OVERRIDE",   "CAP_DAC_READ_SEARCH", "CAP_FOWNER",         "CAP_FSETID",
    "CAP_KILL",            "CAP_SETGID",         "CAP_SETUID",          "CAP_SETPCAP",        "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",       "CAP_NET_RAW",        "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",       "CAP_SYS_MODULE",     "CAP_SYS_RAWIO",       "CAP_SYS_CHROOT",     "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",       "CAP_SYS_ADMIN",      "CAP_SYS_BOOT",        "CAP_SYS_NICE",       "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",        "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",           "CAP_LEASE",          "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",        "CAP_MAC_OVERRIDE",    "CAP_MAC_ADMIN",      "CAP_SYSLOG",
    "CAP_WAKE_ALARM",      "CAP_BLOCK_SUSPEND",  "CAP_AUDIT_READ",      "CAP_PERFMON",        "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};
constexpr int kNamedCapabilities = sizeof(kCapabilityNames) / sizeof(kCapabilityNames[0]);

std::string NameOf(int cap) {
  return cap < kNamedCapabilities ? kCapabilityNames[cap] : "CAP_" + std::to_string(cap);
}

int LastCap() {
  std::ifstream f("/proc/sys/kernel/cap_last_cap");
  int last = -1;
  if (f >> last && last >= 0 && last < 64) return last;
  return kNamedCapabilities - 1;
}

// What every thread does to itself. Only async-signal-safe calls (prctl, capset): it runs in signal handlers.
struct Plan {
  uint64_t keep = 0;
  int last_cap = 0;
  bool bounding = false;
};

int ApplyToThisThread(const Plan& plan) {
  // The bounding set first: dropping from it takes CAP_SETPCAP, which the capset below gives up.
  if (plan.bounding) {
    for (int cap = 0; cap <= plan.last_cap; cap++) {
      if ((plan.keep >> cap) & 1) continue;
      if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1 && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) return errno;
    }
  }
  // EINVAL before Linux 4.3 (no ambient set): nothing to clear then. Emptying the inheritable set below would
  // clear it anyway.
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  // No exec (setuid, file capabilities) can give any of it back.
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
    data[i].effective = data[i].permitted = static_cast<uint32_t>(plan.keep >> (32 * i));
    data[i].inheritable = 0;
  }
  if (syscall(SYS_capset, &header, data) != 0) return errno;
  return 0;
}

struct ThreadCreds {
  uint64_t inh = 0, prm = 0, eff = 0, bnd = 0, amb = 0;
  uint64_t sig_pending = 0;  // SigPnd: signals pending for this thread alone (tgkill's)
  int no_new_privs = 0;
};

// /proc/self/task/TID/status: false when the thread is gone.
bool ReadThreadCreds(const std::string& tid, ThreadCreds& out) {
  std::ifstream f("/proc/self/task/" + tid + "/status");
  if (!f) return false;
  std::string line;
  bool any = false;
  auto hex = [&](const char* key, uint64_t& v) {
    size_t n = strlen(key);
    if (line.compare(0, n, key) != 0) return;
    v = std::stoull(line.substr(n), nullptr, 16);
    any = true;
  };
  while (std::getline(f, line)) {
    hex("CapInh:", out.inh);
    hex("CapPrm:", out.prm);
    hex("CapEff:", out.eff);
    hex("CapBnd:", out.bnd);
    hex("CapAmb:", out.amb);
    hex("SigPnd:", out.sig_pending);
    if (line.compare(0, 11, "NoNewPrivs:") == 0) out.no_new_privs = std::stoi(line.substr(11));
  }
  return any;
}

bool Applied(const Plan& plan, const ThreadCreds& c) {
  return c.inh == 0 && c.amb == 0 && c.prm == plan.keep && c.eff == plan.keep && c.no_new_privs == 1 &&
         (!plan.bounding || (c.bnd & ~plan.keep) == 0);
}

std::vector<std::string> OtherThreads() {
  std::vector<std::string> tids;
  std::string self = std::to_string(syscall(SYS_gettid));
  DIR* dir = opendir("/proc/self/task");
  if (!dir) return tids;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9' || self == e->d_name) continue;
    tids.emplace_back(e->d_name);
  }
  closedir(dir);
  return tids;
}

// The signal the other threads are reached with: glibc's SIGSETXID (signal 33, below the SIGRTMIN of 34 that glibc
// leaves to applications). glibc keeps it unblockable (pthread_sigmask removes it from any mask), which is why it uses it to
// run setuid(2) in every thread; Node's SignalInspector thread blocks every other signal. Borrowed for the few
// milliseconds of the drop, glibc's own action restored right after: nothing else of ours sends it, and the agent
// calls no set*id meanwhile.
constexpr int kBroadcastSignal = 33;

// The kernel's struct sigaction for rt_sigaction(2) (x86_64, arm64): glibc's sigaction() refuses signal 33.
struct KernelSigaction {
  void (*handler)(int, siginfo_t*, void*);
  unsigned long flags;
  void (*restorer)();
  uint64_t mask;
};
#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif

Plan g_plan;
std::atomic<bool> g_armed{false};
std::atomic<int> g_in_handler{0};

void OnBroadcast(int, siginfo_t* info, void*) {
  g_in_handler++;
  if (g_armed.load() && info->si_code == SI_TKILL && info->si_pid == getpid()) {
    int saved = errno;
    ApplyToThisThread(g_plan);  // verified from /proc by the caller
    errno = saved;
  }
  g_in_handler--;
}

void SleepMs(long ms) {
  timespec ts{0, ms * 1000000L};
  nanosleep(&ts, nullptr);
}

// Makes every other thread apply g_plan; returns the ids of those that still have other credentials.
std::vector<int> BroadcastToOtherThreads(unsigned& changed) {
  std::vector<int> left;
  KernelSigaction previous{};
  if (syscall(SYS_rt_sigaction, kBroadcastSignal, nullptr, &previous, sizeof(uint64_t)) != 0) return left;
#if defined(__x86_64__)
  // x86_64 returns from a handler through the restorer libc registered (glibc's __restore_rt): without one, no
  // handler can be installed by hand.
  if (!(previous.flags & SA_RESTORER)) {
    for (const auto& tid : OtherThreads()) left.push_back(std::stoi(tid));
    return left;
  }
#endif
  KernelSigaction ours = previous;
  ours.handler = OnBroadcast;
  ours.flags = SA_SIGINFO | SA_RESTART | (previous.flags & SA_RESTORER);
  ours.mask = ~uint64_t(0);  // the handler runs to completion: nothing else interleaves with a thread's change
  if (syscall(SYS_rt_sigaction, kBroadcastSignal, &ours, nullptr, sizeof(uint64_t)) != 0) return left;
  g_armed.store(true);
  // Rounds until every thread listed has applied the plan: a thread not yet reached may have started another,
  // with its own (old) credentials; the next listing finds it. Each thread is sent the signal once (a second one,
  // queued as real-time signals are, could reach it after glibc's action is back, which expects a set*id call in
  // progress). A thread that never answers is given up on after 2 s.
  pid_t pid = getpid();
  std::vector<std::string> pending;
  std::set<std::string> signalled;
  for (int round = 0; round < 400; round++) {
    pending.clear();
    changed = 0;
    for (const auto& tid : OtherThreads()) {
      ThreadCreds c;
      if (!ReadThreadCreds(tid, c)) continue;  // gone
      if (Applied(g_plan, c)) {
        changed++;
        continue;
      }
      pending.push_back(tid);
      if (signalled.insert(tid).second) syscall(SYS_tgkill, pid, std::stoi(tid), kBroadcastSignal);
    }
    if (pending.empty()) break;
    SleepMs(5);
  }
  for (const auto& tid : pending) left.push_back(std::stoi(tid));
  // glibc's action comes back only once no thread is in our handler or has the signal still pending; else ours
  // stays (armed: a late thread still drops), and a set*id call in this process would then wait forever.
  bool settled = pending.empty();
  for (int i = 0; settled && i < 400; i++) {
    bool quiet = g_in_handler.load() == 0;
    for (const auto& tid : OtherThreads()) {
      ThreadCreds c;
      if (quiet && ReadThreadCreds(tid, c) && ((c.sig_pending >> (kBroadcastSignal - 1)) & 1)) quiet = false;
    }
    if (quiet && g_in_handler.load() == 0) break;
    if (i == 399) settled = false;
    SleepMs(5);
  }
  if (settled) {
    g_armed.store(false);
    syscall(SYS_rt_sigaction, kBroadcastSignal, &previous, nullptr, sizeof(uint64_t));
  }
  return left;
}

}  // namespace

CapabilityDrop DropCapabilities(const std::vector<std::string>& keep) {
  uint64_t wanted = 0;
  for (const auto& name : keep) {
    int cap = -1;
    for (int i = 0; i < kNamedCapabilities; i++)
      if (name == kCapabilityNames[i]) cap = i;
    if (cap < 0) throw std::invalid_argument("unknown capability name: " + name);
    wanted |= uint64_t(1) << cap;
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &header, data) != 0)
    throw std::runtime_error(std::string("capget: ") + strerror(errno));
  uint64_t permitted = data[0].permitted | (uint64_t(data[1].permitted) << 32);
  uint64_t effective = data[0].effective | (uint64_t(data[1].effective) << 32);

  CapabilityDrop out;
  Plan plan;
  plan.keep = wanted & permitted;
  plan.last_cap = LastCap();
  plan.bounding = (effective >> CAP_SETPCAP) & 1;
  for (int cap = 0; cap <= plan.last_cap; cap++) {
    uint64_t bit = uint64_t(1) << cap;
    if (plan.keep & bit) out.kept.push_back(NameOf(cap));
    else if (permitted & bit) out.dropped.push_back(NameOf(cap));
    else if (wanted & bit) out.not_held.push_back(NameOf(cap));
  }
  if (permitted == 0) return out;  // an unprivileged process: nothing to give up

  g_plan = plan;
  out.unchanged_threads = BroadcastToOtherThreads(out.threads);
  int err = ApplyToThisThread(plan);
  if (err) throw std::runtime_error(std::string("dropping capabilities: ") + strerror(err));
  out.threads++;
  out.bounding = plan.bounding;
  out.changed = true;
  return out;
}

}  // namespace adi
