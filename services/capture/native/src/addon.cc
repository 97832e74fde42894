// Node-API surface of the capture loader: one JavaScript call per batch of
// records (a Buffer), never one per event. The batch queue towards JavaScript
// is bounded: when the event loop falls behind, batches are dropped and counted
// rather than blocking the thread that drains the kernel's ring buffer.
#include <napi.h>

#include <memory>
#include <string>

#include "capabilities.h"
#include "capture_loader.h"

namespace {

using adi::Batch;
using adi::CaptureLoader;

void DeliverBatch(Napi::Env env, Napi::Function callback, std::nullptr_t*, Batch* batch) {
  std::unique_ptr<Batch> owned(batch);
  if (env == nullptr || callback.IsEmpty()) return;
  auto* raw = owned.release();
  auto buffer = Napi::Buffer<uint8_t>::New(env, raw->data(), raw->size(),
                                           [](Napi::Env, uint8_t*, Batch* b) { delete b; }, raw);
  callback.Call({buffer});
}

using BatchTsfn = Napi::TypedThreadSafeFunction<std::nullptr_t, Batch, DeliverBatch>;

class Capture : public Napi::ObjectWrap<Capture> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Capture",
                       {InstanceMethod<&Capture::Start>("start"), InstanceMethod<&Capture::Stop>("stop"),
                        InstanceMethod<&Capture::Close>("close"),
                        InstanceMethod<&Capture::OptIn>("optIn"), InstanceMethod<&Capture::OptOut>("optOut"),
                        InstanceMethod<&Capture::OptedIn>("optedIn"), InstanceMethod<&Capture::Stats>("stats"),
                        InstanceMethod<&Capture::AddListening>("addListening"),
                        InstanceMethod<&Capture::Hooks>("hooks")});
  }

  explicit Capture(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Capture>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "Capture(options): options object expected");
    auto o = info[0].As<Napi::Object>();
    adi::LoaderOptions opts;
    auto u32 = [&](const char* name, uint32_t fallback) {
      auto v = o.Get(name);
      return v.IsNumber() ? v.As<Napi::Number>().Uint32Value() : fallback;
    };
    opts.payload_limit = u32("payloadLimit", opts.payload_limit);
    opts.ringbuf_bytes = u32("ringbufBytes", opts.ringbuf_bytes);
    opts.wakeup_bytes = u32("wakeupBytes", static_cast<uint32_t>(opts.wakeup_bytes));
    opts.max_batch_bytes = u32("maxBatchBytes", opts.max_batch_bytes);
    opts.flush_interval_ms = u32("flushIntervalMs", opts.flush_interval_ms);
    opts.self_pid = u32("selfPid", 0);
    max_queued_ = u32("maxQueuedBatches", 256);
    auto base = o.Get("connIdBase");
    if (base.IsBigInt()) {
      bool lossless = true;
      opts.conn_id_base = base.As<Napi::BigInt>().Uint64Value(&lossless);
    }
    opts.partitions = u32("partitions", opts.partitions);
    auto boot = o.Get("bootId");  // 32 hex digits, dashes allowed
    if (boot.IsString()) {
      std::string hex;
      for (char c : boot.As<Napi::String>().Utf8Value())
        if (c != '-') hex += c;
      if (hex.size() != 32 || hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
        throw Napi::TypeError::New(env, "Capture(options): bootId must be 32 hex digits");
      for (size_t i = 0; i < 16; i++) opts.boot_id[i] = static_cast<uint8_t>(std::stoul(hex.substr(i * 2, 2), nullptr, 16));
    }
    auto hooks = o.Get("hooks");
    if (hooks.IsString()) opts.hooks = hooks.As<Napi::String>().Utf8Value();
    auto allowed = o.Get("allowedProfiles");
    if (allowed.IsArray()) {
      auto arr = allowed.As<Napi::Array>();
      for (uint32_t i = 0; i < arr.Length(); i++)
        opts.allowed_profiles.push_back(arr.Get(i).As<Napi::String>().Utf8Value());
    }
    try {
      loader_ = std::make_unique<CaptureLoader>(opts);
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, e.what());
    }
  }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Loader(env);
    if (!info[0].IsFunction()) throw Napi::TypeError::New(env, "start(onBatch): function expected");
    tsfn_ = BatchTsfn::New(env, info[0].As<Napi::Function>(), "adi-capture-batches", max_queued_, 1);
    started_ = true;
    loader_->Start([this](std::unique_ptr<Batch> batch) {
      napi_status status = tsfn_.NonBlockingCall(batch.get());
      if (status != napi_ok) return false;  // queue full or closing: the unique_ptr frees it
      batch.release();
      return true;
    });
    return env.Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (loader_) loader_->Stop();
    if (started_) {
      tsfn_.Release();
      started_ = false;
    }
    return info.Env().Undefined();
  }

  // Detaches every program and frees the maps; the object is unusable afterwards.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Stop(info);
    loader_.reset();
    return info.Env().Undefined();
  }

  CaptureLoader& Loader(Napi::Env env) {
    if (!loader_) throw Napi::Error::New(env, "capture is closed");
    return *loader_;
  }

  Napi::Value OptIn(const Napi::CallbackInfo& info) {
    uint32_t pid = info[0].As<Napi::Number>().Uint32Value();
    bool lossless = true;
    uint64_t start = info[1].IsBigInt() ? info[1].As<Napi::BigInt>().Uint64Value(&lossless)
                                        : static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value());
    try {
      auto str = [&](size_t i) { return info.Length() > i && info[i].IsString() ? info[i].As<Napi::String>().Utf8Value() : std::string(); };
      Loader(info.Env()).OptIn(pid, start, str(2), str(3));
    } catch (const std::exception& e) {
      throw Napi::Error::New(info.Env(), e.what());
    }
    return info.Env().Undefined();
  }

  Napi::Value OptOut(const Napi::CallbackInfo& info) {
    Loader(info.Env()).OptOut(info[0].As<Napi::Number>().Uint32Value());
    return info.Env().Undefined();
  }

  Napi::Value OptedIn(const Napi::CallbackInfo& info) {
    auto pids = Loader(info.Env()).OptedIn();
    auto arr = Napi::Array::New(info.Env(), pids.size());
    for (size_t i = 0; i < pids.size(); i++) arr.Set(i, Napi::Number::New(info.Env(), pids[i]));
    return arr;
  }

  // addListening([{ netns, port, sockets }])
  Napi::Value AddListening(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsArray()) throw Napi::TypeError::New(env, "addListening(ports): array expected");
    auto arr = info[0].As<Napi::Array>();
    std::vector<adi::ListeningPort> ports;
    for (uint32_t i = 0; i < arr.Length(); i++) {
      auto p = arr.Get(i).As<Napi::Object>();
      ports.push_back({p.Get("netns").As<Napi::Number>().Uint32Value(),
                       static_cast<uint16_t>(p.Get("port").As<Napi::Number>().Uint32Value()),
                       p.Get("sockets").IsNumber() ? p.Get("sockets").As<Napi::Number>().Uint32Value() : 1});
    }
    Loader(env).AddListening(ports);
    return env.Undefined();
  }

  Napi::Value Hooks(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), Loader(info.Env()).hooks());
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto& loader = Loader(env);
    auto k = loader.ReadCounters();
    auto num = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
    auto dropsObject = [&](const uint64_t* d) {
      auto o = Napi::Object::New(env);
      o.Set("ringbuf_full", num(d[0]));
      o.Set("payload_read", num(d[1]));
      o.Set("conn_table_full", num(d[2]));
      o.Set("args_table_full", num(d[3]));
      o.Set("no_tuple", num(d[4]));
      return o;
    };
    auto drops = dropsObject(k.drops);
    // Only CPUs that dropped anything: the common case is an empty object.
    auto byCpu = Napi::Object::New(env);
    for (size_t cpu = 0; cpu < k.drops_per_cpu.size(); cpu++) {
      const auto& d = k.drops_per_cpu[cpu];
      if (d[0] || d[1] || d[2] || d[3] || d[4]) byCpu.Set(std::to_string(cpu), dropsObject(d.data()));
    }
    auto out = Napi::Object::New(env);
    out.Set("records", num(k.records));
    out.Set("payloadBytes", num(k.payload_bytes));
    out.Set("drops", drops);
    out.Set("dropsByCpu", byCpu);
    out.Set("batches", num(loader.batches()));
    out.Set("batchesDropped", num(loader.batches_dropped()));
    out.Set("recordsDropped", num(loader.records_dropped()));
    out.Set("wallOffsetNs", Napi::BigInt::New(env, loader.wall_offset_ns()));
    return out;
  }

  std::unique_ptr<CaptureLoader> loader_;
  BatchTsfn tsfn_;
  bool started_ = false;
  uint32_t max_queued_ = 256;
};

// dropCapabilities(keep: string[]) -> { kept, dropped, notHeld, bounding, changed, threads, unchangedThreads }:
// see capabilities.h. Throws TypeError for an unknown capability name.
Napi::Value DropCapabilities(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) throw Napi::TypeError::New(env, "dropCapabilities(keep): array of capability names expected");
  auto arr = info[0].As<Napi::Array>();
  std::vector<std::string> keep;
  for (uint32_t i = 0; i < arr.Length(); i++) keep.push_back(arr.Get(i).As<Napi::String>().Utf8Value());
  adi::CapabilityDrop r;
  try {
    r = adi::DropCapabilities(keep);
  } catch (const std::invalid_argument& e) {
    throw Napi::TypeError::New(env, e.what());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
  auto names = [&](const std::vector<std::string>& v) {
    auto a = Napi::Array::New(env, v.size());
    for (size_t i = 0; i < v.size(); i++) a.Set(i, Napi::String::New(env, v[i]));
    return a;
  };
  auto unchanged = Napi::Array::New(env, r.unchanged_threads.size());
  for (size_t i = 0; i < r.unchanged_threads.size(); i++) unchanged.Set(i, Napi::Number::New(env, r.unchanged_threads[i]));
  auto out = Napi::Object::New(env);
  out.Set("kept", names(r.kept));
  out.Set("dropped", names(r.dropped));
  out.Set("notHeld", names(r.not_held));
  out.Set("bounding", Napi::Boolean::New(env, r.bounding));
  out.Set("changed", Napi::Boolean::New(env, r.changed));
  out.Set("threads", Napi::Number::New(env, r.threads));
  out.Set("unchangedThreads", unchanged);
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Capture", Capture::Define(env));
  exports.Set("dropCapabilities", Napi::Function::New<DropCapabilities>(env, "dropCapabilities"));
  return exports;
}

}  // namespace

NODE_API_MODULE(adi_capture, Init)
