#include "capture_loader.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <chrono>
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include "capture.h"
#include "capture.skel.h"

namespace adi {
namespace {

// libbpf reports verifier and attach failures through its print callback; keep
// the tail of it so the error thrown to JavaScript says what went wrong.
std::mutex log_mutex;
std::string libbpf_log;

int CollectLibbpfLog(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  if (n <= 0) return 0;
  std::string line(static_cast<size_t>(n) + 1, '\0');
  vsnprintf(line.data(), line.size(), fmt, args);
  line.resize(static_cast<size_t>(n));
  std::lock_guard<std::mutex> lock(log_mutex);
  libbpf_log += line;
  if (libbpf_log.size() > 16384) libbpf_log.erase(0, libbpf_log.size() - 16384);
  return 0;
}

std::runtime_error LibbpfError(const std::string& what, int err) {
  std::lock_guard<std::mutex> lock(log_mutex);
  std::string msg = what + ": " + strerror(err < 0 ? -err : err);
  if (!libbpf_log.empty()) msg += "\n" + libbpf_log;
  libbpf_log.clear();
  return std::runtime_error(msg);
}

int64_t ClockNs(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return int64_t(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

// The socket-layer path needs the BTF tracepoints sock:sock_send_length and sock:sock_recv_length (Linux 6.3+).
bool KernelHasSocketHooks() {
  struct btf* vmlinux = btf__load_vmlinux_btf();
  if (!vmlinux) return false;
  bool has = btf__find_by_name_kind(vmlinux, "btf_trace_sock_send_length", BTF_KIND_TYPEDEF) > 0 &&
             btf__find_by_name_kind(vmlinux, "btf_trace_sock_recv_length", BTF_KIND_TYPEDEF) > 0;
  btf__free(vmlinux);
  return has;
}

bool StartsWith(const char* s, const char* prefix) { return s && strncmp(s, prefix, strlen(prefix)) == 0; }

uint64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

CaptureLoader::CaptureLoader(const LoaderOptions& opts) : opts_(opts) {
  libbpf_set_print(CollectLibbpfLog);
  if (opts_.partitions == 0) opts_.partitions = 1;
  parts_.resize(opts_.partitions);
  part_records_.assign(opts_.partitions, 0);
  RefreshClock();

  // 1. open, 2. configure read-only data and map sizes, 3. load, 4. fill maps, 5. attach
  skel_ = capture_bpf__open();
  if (!skel_) throw LibbpfError("opening the BPF skeleton", errno);
  skel_->rodata->payload_limit = opts.payload_limit;
  skel_->rodata->wakeup_bytes = opts.wakeup_bytes;
  skel_->rodata->self_tgid = opts.self_pid;
  skel_->rodata->conn_id_base = opts.conn_id_base;
  skel_->rodata->allowlist_enabled = !opts.allowed_profiles.empty();
  // Pick the data path; the other path's programs are not loaded (nor attached).
  bool socket_hooks = KernelHasSocketHooks();
  if (opts.hooks == "socket" && !socket_hooks) {
    capture_bpf__destroy(skel_);
    throw std::runtime_error(
        "ADI_CAPTURE_HOOKS=socket: this kernel has no sock:sock_send_length/sock_recv_length BTF tracepoints "
        "(Linux 6.3+); use auto or syscall");
  }
  hooks_ = opts.hooks == "syscall" || !socket_hooks ? "syscall" : "socket";
  bpf_program* prog;
  bpf_object__for_each_program(prog, skel_->obj) {
    const char* sec = bpf_program__section_name(prog);
    bool syscall_prog = StartsWith(sec, "tracepoint/syscalls/");
    bool socket_prog = StartsWith(sec, "tp_btf/sock_send_length") || StartsWith(sec, "tp_btf/sock_recv_length");
    if ((hooks_ == "socket" && syscall_prog) || (hooks_ == "syscall" && socket_prog))
      bpf_program__set_autoload(prog, false);
  }
  int err = bpf_map__set_max_entries(skel_->maps.events, opts.ringbuf_bytes);
  if (err) {
    capture_bpf__destroy(skel_);
    throw LibbpfError("sizing the ring buffer", err);
  }
  // The verifier gives up with EAGAIN when a signal is pending on the loading thread, and a profiler's SIGPROF
  // (node --cpu-prof samples every millisecond) or any other signal outlasts libbpf's five retries: signals wait
  // until the programs are loaded (a few hundred milliseconds).
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &previous);
  err = capture_bpf__load(skel_);
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (err) {
    capture_bpf__destroy(skel_);
    throw LibbpfError("loading the BPF program (verifier log below, if any)", err);
  }
  for (const auto& profile : opts.allowed_profiles) {
    adi_profile_key key{};
    strncpy(key.value, profile.c_str(), sizeof(key.value) - 1);
    uint8_t one = 1;
    bpf_map__update_elem(skel_->maps.allowed_profiles, &key, sizeof(key), &one, sizeof(one), BPF_ANY);
  }
  err = capture_bpf__attach(skel_);
  if (err) {
    capture_bpf__destroy(skel_);
    throw LibbpfError("attaching the tracepoints", err);
  }
  rb_ = ring_buffer__new(bpf_map__fd(skel_->maps.events), &CaptureLoader::OnRecord, this, nullptr);
  if (!rb_) {
    int e = errno;
    capture_bpf__destroy(skel_);
    throw LibbpfError("opening the ring buffer", e);
  }
}

CaptureLoader::~CaptureLoader() {
  Stop();
  if (rb_) ring_buffer__free(rb_);
  if (skel_) capture_bpf__destroy(skel_);
}

void CaptureLoader::RefreshClock() {
  // Kernel timestamps are CLOCK_BOOTTIME; wall clock = boottime + (realtime - boottime).
  int64_t before = ClockNs(CLOCK_BOOTTIME);
  int64_t real = ClockNs(CLOCK_REALTIME);
  int64_t after = ClockNs(CLOCK_BOOTTIME);
  wall_offset_ns_.store(real - (before + (after - before) / 2));
}

int CaptureLoader::OnRecord(void* ctx, void* data, size_t size) {
  static_cast<CaptureLoader*>(ctx)->Append(static_cast<const uint8_t*>(data), size);
  return 0;
}

namespace {

// shared/src/wire/subjects.ts splitmix64 / partitionOf: the same connection always lands in the same partition.
uint64_t SplitMix64(uint64_t x) {
  uint64_t z = x + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

template <typename T>
void Put(Batch& b, size_t at, T v) {
  std::memcpy(b.data() + at, &v, sizeof(v));
}

}  // namespace

void CaptureLoader::CopyRecord(Batch& batch, const uint8_t* data, size_t size) {
  size_t at = batch.size();
  batch.insert(batch.end(), data, data + size);
  // Records are 8-byte aligned in the batch so readers can use aligned loads.
  batch.resize((batch.size() + 7) & ~size_t(7));
  auto* h = reinterpret_cast<adi_event_header*>(batch.data() + at);
  h->ts_ns += wall_offset_ns_.load(std::memory_order_relaxed);
  h->size = static_cast<uint32_t>(batch.size() - at);
}

void CaptureLoader::Append(const uint8_t* data, size_t size) {
  if (size < sizeof(adi_event_header)) return;
  auto kind = reinterpret_cast<const adi_event_header*>(data)->kind;
  bool socket_record = kind == ADI_EV_DATA || kind == ADI_EV_CONN_OPEN || kind == ADI_EV_CONN_CLOSE;
  if (socket_record && size >= offsetof(adi_data_event, conn_id) + sizeof(uint64_t)) {
    uint64_t conn_id;
    std::memcpy(&conn_id, data + offsetof(adi_data_event, conn_id), sizeof(conn_id));
    uint32_t p = static_cast<uint32_t>(SplitMix64(conn_id) % parts_.size());
    auto& part = parts_[p];
    if (!part) {
      part = std::make_unique<Batch>();
      part->reserve(opts_.max_batch_bytes + sizeof(adi_data_event) + ADI_CHUNK_MAX);
      part->resize(kRawHeaderSize);
    }
    CopyRecord(*part, data, size);
    part_records_[p]++;
    if (part->size() >= opts_.max_batch_bytes) FlushPartition(p);
    if (kind != ADI_EV_CONN_OPEN) return;
  }
  if (!side_) {
    side_ = std::make_unique<Batch>();
    side_->resize(kSideHeaderSize);
  }
  CopyRecord(*side_, data, size);
  side_records_++;
  if (!socket_record) side_owned_++;
  if (side_->size() >= opts_.max_batch_bytes) FlushSide();
}

bool CaptureLoader::Hand(std::unique_ptr<Batch> batch, uint32_t records) {
  if (sink_(std::move(batch))) {
    batches_++;
    return true;
  }
  batches_dropped_++;
  records_dropped_ += records;
  return false;
}

void CaptureLoader::FlushPartition(uint32_t p) {
  auto& part = parts_[p];
  if (!part) return;
  Batch& b = *part;
  Put<uint32_t>(b, 0, kRawBatchMagic);
  Put<uint16_t>(b, 4, ADI_WIRE_VERSION);
  Put<uint16_t>(b, 6, kRawHeaderSize);
  Put<uint32_t>(b, 8, part_records_[p]);
  Put<uint16_t>(b, 12, static_cast<uint16_t>(p));
  Put<uint16_t>(b, 14, 0);
  Put<uint64_t>(b, 16, ++raw_seq_);
  std::memcpy(b.data() + 24, opts_.boot_id, sizeof(opts_.boot_id));
  uint32_t records = part_records_[p];
  part_records_[p] = 0;
  Hand(std::move(part), records);
}

void CaptureLoader::FlushSide() {
  if (!side_) return;
  Put<uint32_t>(*side_, 0, kSideBatchMagic);
  Put<uint32_t>(*side_, 4, side_records_);
  uint32_t owned = side_owned_;
  side_records_ = side_owned_ = 0;
  Hand(std::move(side_), owned);
}

void CaptureLoader::Flush() {
  // Process records first: the facts they become name the processes the raw records come from.
  FlushSide();
  for (uint32_t p = 0; p < parts_.size(); p++) FlushPartition(p);
}

void CaptureLoader::Run() {
  uint64_t last_flush = NowMs(), last_clock = last_flush;
  while (running_.load()) {
    // The kernel side wakes us only past wakeup_bytes; the timeout bounds the latency of the rest.
    ring_buffer__poll(rb_, static_cast<int>(opts_.flush_interval_ms));
    ring_buffer__consume(rb_);
    uint64_t now = NowMs();
    if (now - last_flush >= opts_.flush_interval_ms) {
      Flush();
      last_flush = now;
    }
    if (now - last_clock >= 1000) {
      RefreshClock();
      last_clock = now;
    }
  }
  ring_buffer__consume(rb_);
  Flush();
}

void CaptureLoader::Start(BatchSink sink) {
  if (running_.exchange(true)) return;
  sink_ = std::move(sink);
  thread_ = std::thread([this] { Run(); });
}

void CaptureLoader::Stop() {
  if (!running_.exchange(false)) return;
  if (thread_.joinable()) thread_.join();
}

void CaptureLoader::OptIn(uint32_t pid, uint64_t start_ticks, const std::string& profile, const std::string& name) {
  adi_optin value{};
  value.start_ticks = start_ticks;
  int err = bpf_map__update_elem(skel_->maps.optin, &pid, sizeof(pid), &value, sizeof(value), BPF_ANY);
  if (err) throw LibbpfError("adding pid " + std::to_string(pid) + " to the opt-in map", err);
  adi_optin_names names{};
  strncpy(names.profile, profile.c_str(), sizeof(names.profile) - 1);
  strncpy(names.profile_name, name.c_str(), sizeof(names.profile_name) - 1);
  bpf_map__update_elem(skel_->maps.optin_names, &pid, sizeof(pid), &names, sizeof(names), BPF_ANY);
}

void CaptureLoader::OptOut(uint32_t pid) {
  bpf_map__delete_elem(skel_->maps.optin, &pid, sizeof(pid), 0);
  bpf_map__delete_elem(skel_->maps.optin_names, &pid, sizeof(pid), 0);
}

std::vector<uint32_t> CaptureLoader::OptedIn() const {
  std::vector<uint32_t> pids;
  uint32_t key = 0, next = 0;
  const uint32_t* prev = nullptr;
  while (bpf_map__get_next_key(skel_->maps.optin, prev, &next, sizeof(next)) == 0) {
    pids.push_back(next);
    key = next;
    prev = &key;
  }
  return pids;
}

void CaptureLoader::AddListening(const std::vector<ListeningPort>& ports) {
  for (const auto& p : ports) {
    adi_listen_key key{};
    key.netns = p.netns;
    key.port = p.port;
    uint32_t n = p.sockets ? p.sockets : 1;
    // BPF_NOEXIST: a count the kernel already keeps (a listen() seen live) is not overwritten.
    bpf_map__update_elem(skel_->maps.listening, &key, sizeof(key), &n, sizeof(n), BPF_NOEXIST);
  }
}

KernelCounters CaptureLoader::ReadCounters() const {
  KernelCounters out;
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return out;
  std::vector<uint64_t> values(ncpu);
  auto sum = [&](bpf_map* map, uint32_t index) {
    uint64_t total = 0;
    std::fill(values.begin(), values.end(), 0);
    if (bpf_map__lookup_elem(map, &index, sizeof(index), values.data(), values.size() * sizeof(uint64_t), 0) == 0)
      for (uint64_t v : values) total += v;
    return total;
  };
  out.records = sum(skel_->maps.counters, 0);
  out.payload_bytes = sum(skel_->maps.counters, 1);
  out.drops_per_cpu.assign(ncpu, std::vector<uint64_t>(ADI_DROP_REASONS, 0));
  for (uint32_t r = 0; r < ADI_DROP_REASONS; r++) {
    out.drops[r] = sum(skel_->maps.drops, r);  // leaves this reason's per-CPU values in `values`
    for (int cpu = 0; cpu < ncpu; cpu++) out.drops_per_cpu[cpu][r] = values[cpu];
  }
  return out;
}

}  // namespace adi
