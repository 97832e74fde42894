// The kernel side of the capture agent, without any Node.js: loads the CO-RE
// skeleton, attaches every tracepoint, maintains the opt-in map and drains the
// ring buffer on its own thread into batches of whole records.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

struct capture_bpf;
struct ring_buffer;

namespace adi {

struct LoaderOptions {
  uint32_t payload_limit = 65536;
  uint32_t ringbuf_bytes = 8u << 20;
  uint64_t wakeup_bytes = 256 * 1024;
  uint32_t max_batch_bytes = 256 * 1024;
  uint32_t flush_interval_ms = 50;
  uint32_t self_pid = 0;
  uint64_t conn_id_base = 0;
  std::vector<std::string> allowed_profiles;
  // "auto" (socket-layer hooks when the kernel has them), "socket" or "syscall" (ADI_CAPTURE_HOOKS).
  std::string hooks = "auto";
  // ADI_PARTITIONS: socket records are split by splitmix64(conn_id) % partitions on the drain thread.
  uint32_t partitions = 16;
  uint8_t boot_id[16] = {};
};

// What the drain thread hands over (the first 4 bytes tell which):
// - a raw-stream message, ready to publish: the batch header (magic "ADIB", shared/src/wire/raw-events.ts
//   BATCH_HEADER_LAYOUT) and the socket records (data, open, close) of one partition, in kernel order;
// - a side batch: magic "ADIX", u32 record count, then the other records (process exec/fork/exit, kinds this
//   build does not know) and a copy of every connection open (the agent looks at their ports).
constexpr uint32_t kRawBatchMagic = 0x42494441;   // "ADIB"
constexpr uint32_t kSideBatchMagic = 0x58494441;  // "ADIX"
constexpr size_t kRawHeaderSize = 40;
constexpr size_t kSideHeaderSize = 8;

// A listening TCP port in a network namespace (inode of /proc/PID/ns/net), known before capture started.
struct ListeningPort {
  uint32_t netns;
  uint16_t port;
  uint32_t sockets;
};

struct KernelCounters {
  uint64_t records = 0;
  uint64_t payload_bytes = 0;
  uint64_t drops[5] = {0, 0, 0, 0, 0};  // indexed by enum adi_drop_reason, summed over CPUs
  std::vector<std::vector<uint64_t>> drops_per_cpu;  // [cpu][reason]
};

// A batch owns its bytes: whole records, back to back, timestamps already wall clock.
using Batch = std::vector<uint8_t>;
// Returns false when the batch could not be handed over (it is then counted as dropped).
using BatchSink = std::function<bool(std::unique_ptr<Batch>)>;

class CaptureLoader {
 public:
  explicit CaptureLoader(const LoaderOptions& opts);  // throws std::runtime_error with libbpf's log
  ~CaptureLoader();
  CaptureLoader(const CaptureLoader&) = delete;
  CaptureLoader& operator=(const CaptureLoader&) = delete;

  void Start(BatchSink sink);
  void Stop();  // drains what is left, flushes, joins

  // A process found running: its verdict and, for the fork records of its children, its ADI_PROFILE values.
  void OptIn(uint32_t pid, uint64_t start_ticks, const std::string& profile = "", const std::string& name = "");
  void OptOut(uint32_t pid);
  std::vector<uint32_t> OptedIn() const;
  // Seeds the listening-ports map (the kernel keeps it from then on): it tells a server's end from a client's.
  void AddListening(const std::vector<ListeningPort>& ports);
  // Which data path was loaded: "socket" or "syscall".
  const std::string& hooks() const { return hooks_; }

  KernelCounters ReadCounters() const;
  uint64_t batches() const { return batches_.load(); }
  uint64_t batches_dropped() const { return batches_dropped_.load(); }
  uint64_t records_dropped() const { return records_dropped_.load(); }
  int64_t wall_offset_ns() const { return wall_offset_ns_.load(); }

 private:
  static int OnRecord(void* ctx, void* data, size_t size);
  void Append(const uint8_t* data, size_t size);
  // Copies one record to the end of *batch, 8-byte aligned, with its size padded and its time made wall clock.
  void CopyRecord(Batch& batch, const uint8_t* data, size_t size);
  void FlushPartition(uint32_t p);
  void FlushSide();
  void Flush();
  bool Hand(std::unique_ptr<Batch> batch, uint32_t records);
  void Run();
  void RefreshClock();

  LoaderOptions opts_;
  std::string hooks_;
  capture_bpf* skel_ = nullptr;
  ring_buffer* rb_ = nullptr;
  BatchSink sink_;
  std::thread thread_;
  std::atomic<bool> running_{false};
  std::vector<std::unique_ptr<Batch>> parts_;  // one per partition, header space reserved
  std::vector<uint32_t> part_records_;
  std::unique_ptr<Batch> side_;
  uint32_t side_records_ = 0;  // records in side_, copies of opens included
  uint32_t side_owned_ = 0;    // of which are not copies (what a drop loses)
  uint64_t raw_seq_ = 0;
  std::atomic<int64_t> wall_offset_ns_{0};
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> batches_dropped_{0};
  std::atomic<uint64_t> records_dropped_{0};
};

}  // namespace adi
