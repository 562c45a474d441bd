#include "actors/work_queue/work_queue.hpp"

#include <simdjson.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <deque>

#include "protocol/common/json.hpp"
#include "protocol/common/time.hpp"

namespace p2p::work {
namespace {

// ---- binary form ---------------------------------------------------------------------------------

class byte_writer {
 public:
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
  void f64(double v) { u64(std::bit_cast<std::uint64_t>(v)); }
  void flag(bool v) { u8(v ? 1 : 0); }
  void str(std::string_view s) {
    u32(static_cast<std::uint32_t>(s.size()));
    out_.append(s);
  }
  void strs(const std::vector<std::string>& v) {
    u32(static_cast<std::uint32_t>(v.size()));
    for (const auto& s : v) str(s);
  }
  void string_map(const std::map<std::string, std::string>& m) {
    u32(static_cast<std::uint32_t>(m.size()));
    for (const auto& [k, v] : m) {
      str(k);
      str(v);
    }
  }
  void raw(std::string_view s) { out_.append(s); }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

// Reads what byte_writer wrote; any shortfall sets `ok` to false and yields zeros from then on.
class byte_reader {
 public:
  explicit byte_reader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool done() const { return ok_ && in_.empty(); }
  std::uint8_t u8() {
    if (!need(1)) return 0;
    auto v = static_cast<std::uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return v;
  }
  std::uint32_t u32() {
    if (!need(4)) return 0;
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(in_[i])) << (8 * i);
    in_.remove_prefix(4);
    return v;
  }
  std::uint64_t u64() {
    if (!need(8)) return 0;
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(in_[i])) << (8 * i);
    in_.remove_prefix(8);
    return v;
  }
  std::int64_t i64() { return static_cast<std::int64_t>(u64()); }
  double f64() { return std::bit_cast<double>(u64()); }
  bool flag() {
    const auto v = u8();
    if (v > 1) ok_ = false;
    return v == 1;
  }
  std::string str() {
    const auto n = u32();
    if (!need(n)) return {};
    std::string s(in_.substr(0, n));
    in_.remove_prefix(n);
    return s;
  }
  // A count of elements each at least `min_bytes` long: refuses counts the input cannot hold, so
  // garbage never makes us reserve gigabytes.
  std::uint32_t count(std::size_t min_bytes) {
    const auto n = u32();
    if (ok_ && static_cast<std::uint64_t>(n) * min_bytes > in_.size()) ok_ = false;
    return ok_ ? n : 0;
  }
  std::vector<std::string> strs() {
    std::vector<std::string> v(count(4));
    for (auto& s : v) s = str();
    return v;
  }
  std::map<std::string, std::string> string_map() {
    std::map<std::string, std::string> m;
    for (auto n = count(8); n > 0 && ok_; --n) {
      auto k = str();
      m[std::move(k)] = str();
    }
    return m;
  }
  void fail() { ok_ = false; }
  bool expect(std::string_view magic) {
    if (in_.substr(0, magic.size()) != magic) return ok_ = false;
    in_.remove_prefix(magic.size());
    return true;
  }

 private:
  bool need(std::size_t n) {
    if (ok_ && in_.size() >= n) return true;
    ok_ = false;
    return false;
  }
  std::string_view in_;
  bool ok_ = true;
};

constexpr std::string_view command_magic("WQC\x01", 4);
constexpr std::string_view answer_magic("WQA\x01", 4);
constexpr std::string_view snapshot_magic("WQS\x01", 4);

enum class op : std::uint8_t { add = 1, claim, start, heartbeat, complete, fail, expire, timeout, cancel, archive, release };

void write_new_item(byte_writer& w, const new_item& x) {
  w.str(x.work_type);
  w.i64(x.priority);
  w.str(x.config);
  w.strs(x.depends_on);
  w.u32(x.max_attempts);
  w.u32(x.lease_s);
  w.u32(x.timeout_s);
  w.str(x.campaign_id);
}
new_item read_new_item(byte_reader& r) {
  new_item x;
  x.work_type = r.str();
  const auto priority = r.i64();
  x.priority = priority < 0 || priority > 100 ? -1 : static_cast<int>(priority);  // -1: refused as out of range
  x.config = r.str();
  x.depends_on = r.strs();
  x.max_attempts = r.u32();
  x.lease_s = r.u32();
  x.timeout_s = r.u32();
  x.campaign_id = r.str();
  return x;
}

void write_item(byte_writer& w, const item& x) {
  w.str(x.work_id);
  w.u64(x.seq);
  w.str(x.work_type);
  w.i64(x.priority);
  w.str(x.config);
  w.str(x.config_key);
  w.str(x.target_node);
  w.strs(x.exclude_nodes);
  w.string_map(x.required.labels);
  w.u64(x.required.gpus);
  w.f64(x.required.min_memory_gb);
  w.strs(x.depends_on);
  w.str(x.campaign_id);
  w.u8(static_cast<std::uint8_t>(x.state));
  w.u32(x.attempts);
  w.u32(x.max_attempts);
  w.u32(x.lease_s);
  w.u32(x.timeout_s);
  w.str(x.claimed_by);
  w.str(x.claim_token);
  for (auto t : {x.created_at, x.claimed_at, x.started_at, x.finished_at, x.updated_at}) w.i64(t);
  w.f64(x.progress);
  w.str(x.progress_message);
  w.str(x.result);
  w.str(x.error);
}
item read_item(byte_reader& r) {
  item x;
  x.work_id = r.str();
  x.seq = r.u64();
  x.work_type = r.str();
  x.priority = static_cast<int>(r.i64());
  x.config = r.str();
  x.config_key = r.str();
  x.target_node = r.str();
  x.exclude_nodes = r.strs();
  x.required.labels = r.string_map();
  x.required.gpus = r.u64();
  x.required.min_memory_gb = r.f64();
  x.depends_on = r.strs();
  x.campaign_id = r.str();
  const auto s = r.u8();
  if (s >= status_count) {
    r.fail();
    return {};
  }
  x.state = static_cast<status>(s);
  x.attempts = r.u32();
  x.max_attempts = r.u32();
  x.lease_s = r.u32();
  x.timeout_s = r.u32();
  x.claimed_by = r.str();
  x.claim_token = r.str();
  for (auto* t : {&x.created_at, &x.claimed_at, &x.started_at, &x.finished_at, &x.updated_at}) *t = r.i64();
  x.progress = r.f64();
  x.progress_message = r.str();
  x.result = r.str();
  x.error = r.str();
  return x;
}
// An item's smallest encoding: what count() may assume per element.
constexpr std::size_t min_item_bytes = 100;

void write_reply(byte_writer& w, const reply& r) {
  w.u8(static_cast<std::uint8_t>(r.result));
  w.str(r.status);
  w.str(r.message);
  w.str(r.field);
  w.str(r.current_status);
  w.strs(r.work_ids);
  w.u32(static_cast<std::uint32_t>(r.items.size()));
  for (const auto& x : r.items) write_item(w, x);
  w.flag(r.replayed);
}
reply read_reply(byte_reader& r) {
  reply x;
  const auto c = r.u8();
  if (c > static_cast<std::uint8_t>(code::backpressure)) {
    r.fail();
    return x;
  }
  x.result = static_cast<code>(c);
  x.status = r.str();
  x.message = r.str();
  x.field = r.str();
  x.current_status = r.str();
  x.work_ids = r.strs();
  for (auto n = r.count(min_item_bytes); n > 0 && r.ok(); --n) x.items.push_back(read_item(r));
  x.replayed = r.flag();
  return x;
}
std::string reply_bytes(const reply& r) {
  byte_writer w;
  write_reply(w, r);
  return w.take();
}
std::optional<reply> reply_from_bytes(std::string_view bytes) {
  byte_reader r(bytes);
  auto x = read_reply(r);
  if (!r.done()) return std::nullopt;
  return x;
}

std::uint64_t fnv1a(std::string_view bytes, std::uint64_t h = 1469598103934665603ULL) {
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ULL;
  return h;
}

// ---- text ----------------------------------------------------------------------------------------

// Text from pieces, appended (GCC 12 warns falsely on some operator+ chains).
template <class... Parts>
std::string join(const Parts&... parts) {
  std::string s;
  (s.append(parts), ...);
  return s;
}
std::string decimal(std::uint64_t v) { return std::to_string(v); }

reply error_reply(code c, std::string message, std::string field = {}) {
  reply r;
  r.result = c;
  r.message = std::move(message);
  r.field = std::move(field);
  return r;
}
reply conflict_reply(const item& x, std::string message) {
  reply r = error_reply(code::conflict, std::move(message));
  r.current_status = std::string(status_name(x.state));
  return r;
}
reply ok_reply(std::string_view status) {
  reply r;
  r.status = std::string(status);
  return r;
}
answer just(reply r) {
  answer a;
  a.response = std::move(r);
  return a;
}

// ---- JSON input ----------------------------------------------------------------------------------

simdjson::dom::parser& json_parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

// The reserved keys of an item's config, checked. `field` names the offending key on failure.
struct config_fields {
  std::string config_key, target_node;
  std::vector<std::string> exclude_nodes;
  requirements required;
};
std::optional<config_fields> read_config(std::string_view text, std::string& field, std::string& why) {
  simdjson::dom::object obj;
  field = "config";
  if (json_parser().parse(text.data(), text.size()).get(obj)) {
    why = "config is not a JSON object";
    return std::nullopt;
  }
  config_fields f;
  simdjson::dom::element e;
  std::string_view s;
  auto fail = [&](std::string_view key, std::string_view what) {
    field = join(std::string_view("config."), key);
    why = join(field, std::string_view(" must be "), what);
    return std::nullopt;
  };
  if (!obj["config_key"].get(e)) {
    if (e.get(s)) return fail("config_key", "a string");
    f.config_key = std::string(s);
  } else {
    // The usual pair spells the config key when it is not given.
    std::string_view board;
    std::uint64_t players = 0;
    if (!obj["board_type"].get(board) && !obj["num_players"].get(players))
      f.config_key = join(board, std::string_view("_"), decimal(players), std::string_view("p"));
  }
  if (!obj["target_node"].get(e) && !e.is_null()) {
    if (e.get(s)) return fail("target_node", "a string");
    f.target_node = std::string(s);
  }
  if (!obj["exclude_nodes"].get(e) && !e.is_null()) {
    simdjson::dom::array a;
    if (e.get(a)) return fail("exclude_nodes", "an array of node ids");
    for (auto n : a) {
      if (n.get(s)) return fail("exclude_nodes", "an array of node ids");
      f.exclude_nodes.emplace_back(s);
    }
  }
  if (!obj["requires"].get(e) && !e.is_null()) {
    simdjson::dom::object req;
    if (e.get(req)) return fail("requires", "an object");
    simdjson::dom::element v;
    if (!req["labels"].get(v)) {
      simdjson::dom::object labels;
      if (v.get(labels)) return fail("requires.labels", "an object of strings");
      for (auto kv : labels) {
        if (kv.value.get(s)) return fail("requires.labels", "an object of strings");
        f.required.labels[std::string(kv.key)] = std::string(s);
      }
    }
    if (!req["gpu"].get(v)) {
      bool b = false;
      std::uint64_t n = 0;
      if (!v.get(b)) f.required.gpus = b ? 1 : 0;
      else if (!v.get(n)) f.required.gpus = n;
      else return fail("requires.gpu", "true, false or a GPU count");
    }
    if (!req["min_memory_gb"].get(v)) {
      double d = 0;
      if (v.get(d) || !std::isfinite(d) || d < 0) return fail("requires.min_memory_gb", "a non-negative number");
      f.required.min_memory_gb = d;
    }
  }
  return f;
}

bool is_json_object(std::string_view text) {
  simdjson::dom::object obj;
  return !json_parser().parse(text.data(), text.size()).get(obj);
}

// Copies chosen fields of a result object into an event payload: the value as written, or null.
class result_fields {
 public:
  explicit result_fields(std::string_view result_json) {
    if (!result_json.empty()) ok_ = !parser_.parse(result_json.data(), result_json.size()).get(obj_);
  }
  std::optional<std::string> raw(std::string_view key) {
    simdjson::dom::element e;
    if (!ok_ || obj_[key].get(e)) return std::nullopt;
    return simdjson::minify(e);
  }
  void copy(json::writer& w, std::string_view out_key, std::initializer_list<std::string_view> keys) {
    w.key(out_key);
    for (auto k : keys)
      if (auto v = raw(k)) {
        w.raw(*v);
        return;
      }
    w.null();
  }

 private:
  simdjson::dom::parser parser_;
  simdjson::dom::object obj_;
  bool ok_ = false;
};

// ---- events --------------------------------------------------------------------------------------

void write_common(json::writer& w, const item& x) {
  w.field("work_id", x.work_id)
      .field("work_type", x.work_type)
      .field("status", status_name(x.state))
      .field("attempts", x.attempts)
      .field("max_attempts", x.max_attempts)
      .field("config_key", x.config_key)
      .field("campaign_id", x.campaign_id);
}

std::string work_payload(const item& x, std::initializer_list<std::pair<std::string_view, std::string_view>> extra = {}) {
  json::writer w;
  w.begin_object();
  write_common(w, x);
  w.field("node_id", x.claimed_by);
  for (const auto& [k, v] : extra) w.field(k, v);
  w.end_object();
  return w.take();
}

double duration_s(const item& x) {
  const time_ms from = x.started_at > 0 ? x.started_at : x.claimed_at;
  return from > 0 && x.finished_at >= from ? static_cast<double>(x.finished_at - from) / 1000.0 : 0.0;
}

std::string selfplay_payload(const item& x) {
  result_fields r(x.result);
  json::writer w;
  w.begin_object().field("work_id", x.work_id).field("config_key", x.config_key);
  r.copy(w, "games_generated", {"games_generated", "games"});
  w.field("node_id", x.claimed_by);
  if (auto d = r.raw("duration_s")) w.key("duration_s").raw(*d);
  else w.field("duration_s", duration_s(x));
  w.field("campaign_id", x.campaign_id).end_object();
  return w.take();
}

std::string training_payload(const item& x, bool completed) {
  result_fields r(x.result);
  json::writer w;
  w.begin_object().field("work_id", x.work_id).field("config_key", x.config_key);
  r.copy(w, "model_id", {"model_id"});
  r.copy(w, "model_path", {"model_path", "model_artifact"});
  r.copy(w, "train_loss", {"train_loss"});
  r.copy(w, "val_loss", {"val_loss"});
  r.copy(w, "training_samples", {"training_samples"});
  w.field("node_id", x.claimed_by);
  if (completed) {
    if (auto d = r.raw("duration_s")) w.key("duration_s").raw(*d);
    else w.field("duration_s", duration_s(x));
  } else {
    w.field("error", x.error);
  }
  w.field("campaign_id", x.campaign_id).end_object();
  return w.take();
}

// Caps on free text a worker sends, so one command cannot bloat the state.
constexpr std::size_t max_error_bytes = 4096;
constexpr std::size_t max_message_bytes = 1024;
constexpr std::size_t max_name_bytes = 256;
std::string capped(std::string_view s, std::size_t n) { return std::string(s.substr(0, n)); }

}  // namespace

// ---- names ---------------------------------------------------------------------------------------

std::string_view status_name(status s) {
  switch (s) {
    case status::pending: return "pending";
    case status::claimed: return "claimed";
    case status::running: return "running";
    case status::completed: return "completed";
    case status::failed: return "failed";
    case status::timed_out: return "timed_out";
    case status::cancelled: return "cancelled";
  }
  return "pending";
}
std::optional<status> status_named(std::string_view name) {
  for (int i = 0; i < status_count; ++i)
    if (status_name(static_cast<status>(i)) == name) return static_cast<status>(i);
  return std::nullopt;
}
bool is_terminal(status s) {
  return s == status::completed || s == status::failed || s == status::timed_out || s == status::cancelled;
}
bool holds_claim(status s) { return s == status::claimed || s == status::running; }

std::string_view expire_reason_name(expire_reason r) {
  return r == expire_reason::claimant_dead ? "claimant_dead" : "lease_expired";
}

std::string_view code_name(code c) {
  switch (c) {
    case code::ok: return "ok";
    case code::bad_request: return "bad_request";
    case code::not_found: return "not_found";
    case code::conflict: return "conflict";
    case code::payload_too_large: return "payload_too_large";
    case code::backpressure: return "backpressure";
  }
  return "ok";
}

// ---- JSON views ----------------------------------------------------------------------------------

void write_time(json::writer& w, std::string_view key, time_ms t) {
  w.key(key);
  if (t > 0) w.value(format_rfc3339(wall_clock::time_point(std::chrono::milliseconds(t))));
  else w.null();
}

void write_item_fields(json::writer& w, const item& x) {
  auto text_or_null = [&](std::string_view key, const std::string& v) {
    w.key(key);
    if (v.empty()) w.null();
    else w.value(v);
  };
  w.field("work_id", x.work_id)
      .field("work_type", x.work_type)
      .field("priority", x.priority)
      .key("config")
      .raw(x.config.empty() ? std::string_view("{}") : std::string_view(x.config));
  text_or_null("config_key", x.config_key);
  w.key("depends_on").begin_array();
  for (const auto& d : x.depends_on) w.value(d);
  w.end_array()
      .field("status", status_name(x.state))
      .field("attempts", x.attempts)
      .field("max_attempts", x.max_attempts)
      .field("lease_s", x.lease_s)
      .field("timeout_s", x.timeout_s);
  text_or_null("claimed_by", x.claimed_by);
  text_or_null("claim_token", x.claim_token);
  write_time(w, "created_at", x.created_at);
  write_time(w, "claimed_at", x.claimed_at);
  write_time(w, "started_at", x.started_at);
  write_time(w, "finished_at", x.finished_at);
  write_time(w, "updated_at", x.updated_at);
  w.key("progress").begin_object().field("fraction", x.progress).field("message", x.progress_message).end_object();
  w.key("result");
  if (x.result.empty()) w.null();
  else w.raw(x.result);
  text_or_null("error", x.error);
  text_or_null("campaign_id", x.campaign_id);
}

namespace {
void write_item_json(json::writer& w, const item& x) {
  w.begin_object();
  write_item_fields(w, x);
  w.end_object();
}
}  // namespace

std::string item_json(const item& x) {
  json::writer w;
  write_item_json(w, x);
  return w.take();
}

std::string reply_json(const reply& r) {
  json::writer w;
  w.begin_object();
  if (!r.ok()) {
    w.field("error", r.message).field("code", code_name(r.result)).key("details").begin_object();
    if (!r.field.empty()) w.field("field", r.field);
    if (!r.current_status.empty()) w.field("current_status", r.current_status);
    w.end_object();
  } else if (r.status == "queued") {
    w.key("work_ids").begin_array();
    for (const auto& id : r.work_ids) w.value(id);
    w.end_array();
  } else if (r.status == "claimed") {
    w.field("status", r.status).key("items").begin_array();
    for (const auto& x : r.items) write_item_json(w, x);
    w.end_array();
  } else {
    w.field("status", r.status);
    if (!r.work_ids.empty()) {
      w.key("work_ids").begin_array();
      for (const auto& id : r.work_ids) w.value(id);
      w.end_array();
    }
  }
  w.end_object();
  return w.take();
}

// ---- commands ------------------------------------------------------------------------------------

std::string encode_command(const command& c) {
  byte_writer w;
  w.raw(command_magic);
  w.u8(static_cast<std::uint8_t>(c.index() + 1));
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, add_command>) {
          w.u32(static_cast<std::uint32_t>(x.items.size()));
          for (const auto& n : x.items) write_new_item(w, n);
          w.str(x.idempotency_key);
        } else if constexpr (std::is_same_v<T, claim_command>) {
          w.str(x.node.node_id);
          w.strs(x.node.work_types);
          w.string_map(x.node.labels);
          w.u64(x.node.gpus);
          w.f64(x.node.memory_gb);
          w.u32(x.max_items);
          w.str(x.request_id);
          w.u64(x.term);
        } else if constexpr (std::is_same_v<T, start_command>) {
          w.str(x.work_id);
          w.str(x.claim_token);
        } else if constexpr (std::is_same_v<T, heartbeat_command>) {
          w.str(x.work_id);
          w.str(x.claim_token);
          w.flag(x.has_progress);
          w.f64(x.progress);
          w.str(x.message);
        } else if constexpr (std::is_same_v<T, complete_command>) {
          w.str(x.work_id);
          w.str(x.claim_token);
          w.str(x.result);
        } else if constexpr (std::is_same_v<T, fail_command>) {
          w.str(x.work_id);
          w.str(x.claim_token);
          w.str(x.error);
          w.flag(x.retryable);
        } else if constexpr (std::is_same_v<T, expire_command>) {
          w.str(x.work_id);
          w.str(x.claim_token);
          w.u8(static_cast<std::uint8_t>(x.reason));
        } else if constexpr (std::is_same_v<T, timeout_command>) {
          w.str(x.work_id);
          w.str(x.claim_token);
        } else if constexpr (std::is_same_v<T, cancel_command>) {
          w.str(x.work_id);
          w.str(x.reason);
        } else if constexpr (std::is_same_v<T, archive_command>) {
          w.i64(x.before);
          w.u32(x.max_items);
        } else if constexpr (std::is_same_v<T, release_command>) {
          w.str(x.work_id);
          w.str(x.claim_token);
          w.str(x.reason);
        }
        w.i64(x.now);
      },
      c);
  return w.take();
}

std::optional<command> decode_command(std::string_view bytes) {
  byte_reader r(bytes);
  if (!r.expect(command_magic)) return std::nullopt;
  const auto tag = r.u8();
  std::optional<command> out;
  switch (static_cast<op>(tag)) {
    case op::add: {
      add_command x;
      for (auto n = r.count(32); n > 0 && r.ok(); --n) x.items.push_back(read_new_item(r));
      x.idempotency_key = r.str();
      x.now = r.i64();
      out = std::move(x);
      break;
    }
    case op::claim: {
      claim_command x;
      x.node.node_id = r.str();
      x.node.work_types = r.strs();
      x.node.labels = r.string_map();
      x.node.gpus = r.u64();
      x.node.memory_gb = r.f64();
      x.max_items = r.u32();
      x.request_id = r.str();
      x.term = r.u64();
      x.now = r.i64();
      out = std::move(x);
      break;
    }
    case op::start: {
      start_command x;
      x.work_id = r.str();
      x.claim_token = r.str();
      x.now = r.i64();
      out = std::move(x);
      break;
    }
    case op::heartbeat: {
      heartbeat_command x;
      x.work_id = r.str();
      x.claim_token = r.str();
      x.has_progress = r.flag();
      x.progress = r.f64();
      x.message = r.str();
      x.now = r.i64();
      out = std::move(x);
      break;
    }
    case op::complete: {
      complete_command x;
      x.work_id = r.str();
      x.claim_token = r.str();
      x.result = r.str();
      x.now = r.i64();
      out = std::move(x);
      break;
    }
    case op::fail: {
      fail_command x;
      x.work_id = r.str();
      x.claim_token = r.str();
      x.error = r.str();
      x.retryable = r.flag();
      x.now = r.i64();
      out = std::move(x);
      break;
    }
    case op::expire: {
      expire_command x;
      x.work_id = r.str();
      x.claim_token = r.str();
      const auto reason = r.u8();
      if (reason > static_cast<std::uint8_t>(expire_reason::claimant_dead)) return std::nullopt;
      x.reason = static_cast<expire_reason>(reason);
      x.now = r.i64();
      out = std::move(x);
      break;
    }
    case op::timeout: {
      timeout_command x;
      x.work_id = r.str();
      x.claim_token = r.str();
      x.now = r.i64();
      out = std::move(x);
      break;
    }
    case op::cancel: {
      cancel_command x;
      x.work_id = r.str();
      x.reason = r.str();
      x.now = r.i64();
      out = std::move(x);
      break;
    }
    case op::archive: {
      archive_command x;
      x.before = r.i64();
      x.max_items = r.u32();
      x.now = r.i64();
      out = std::move(x);
      break;
    }
    case op::release: {
      release_command x;
      x.work_id = r.str();
      x.claim_token = r.str();
      x.reason = r.str();
      x.now = r.i64();
      out = std::move(x);
      break;
    }
    default:
      return std::nullopt;
  }
  if (!r.done()) return std::nullopt;
  return out;
}

// ---- answers -------------------------------------------------------------------------------------

std::string encode_answer(const answer& a) {
  byte_writer w;
  w.raw(answer_magic);
  write_reply(w, a.response);
  w.u32(static_cast<std::uint32_t>(a.events.size()));
  for (const auto& e : a.events) {
    w.str(e.event_id);
    w.str(e.type);
    w.str(e.payload_json);
    w.i64(e.at);
  }
  w.u32(static_cast<std::uint32_t>(a.archived.size()));
  for (const auto& x : a.archived) write_item(w, x);
  return w.take();
}

std::string encode_item(const item& x) {
  byte_writer w;
  write_item(w, x);
  return w.take();
}

std::optional<item> decode_item(std::string_view bytes) {
  byte_reader r(bytes);
  auto x = read_item(r);
  if (!r.done()) return std::nullopt;
  return x;
}

std::optional<answer> decode_answer(std::string_view bytes) {
  byte_reader r(bytes);
  if (!r.expect(answer_magic)) return std::nullopt;
  answer a;
  a.response = read_reply(r);
  for (auto n = r.count(20); n > 0 && r.ok(); --n) {
    event e;
    e.event_id = r.str();
    e.type = r.str();
    e.payload_json = r.str();
    e.at = r.i64();
    a.events.push_back(std::move(e));
  }
  for (auto n = r.count(min_item_bytes); n > 0 && r.ok(); --n) a.archived.push_back(read_item(r));
  if (!r.done()) return std::nullopt;
  return a;
}

// ---- the state machine ---------------------------------------------------------------------------

work_queue_state_machine::work_queue_state_machine(limits l) : limits_(l) {}

std::string work_queue_state_machine::apply(std::uint64_t index, std::string_view bytes) {
  auto c = decode_command(bytes);
  if (!c) return encode_answer(just(error_reply(code::bad_request, "not a work-queue command of a known version")));
  return encode_answer(apply_command(index, *c));
}

answer work_queue_state_machine::apply_command(std::uint64_t index, const command& c) {
  entry_index_ = index;
  event_n_ = 0;
  advance_clock(std::visit([](const auto& x) { return x.now; }, c));
  prune_dedupe();
  return std::visit(
      [&](const auto& x) -> answer {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, add_command>) return add(index, x);
        else if constexpr (std::is_same_v<T, claim_command>) return claim(index, x);
        else if constexpr (std::is_same_v<T, start_command>) return start(x);
        else if constexpr (std::is_same_v<T, heartbeat_command>) return heartbeat(x);
        else if constexpr (std::is_same_v<T, complete_command>) return complete(x);
        else if constexpr (std::is_same_v<T, fail_command>) return fail(x);
        else if constexpr (std::is_same_v<T, expire_command>) return expire(x);
        else if constexpr (std::is_same_v<T, timeout_command>) return timeout(x);
        else if constexpr (std::is_same_v<T, cancel_command>) return cancel(x);
        else if constexpr (std::is_same_v<T, release_command>) return release(x);
        else return archive(x);
      },
      c);
}

void work_queue_state_machine::advance_clock(time_ms now) { clock_ = std::max(clock_, now); }

void work_queue_state_machine::prune_dedupe() {
  const time_ms horizon = clock_ - limits_.dedupe_window_ms;
  while (!idempotency_expiry_.empty() && idempotency_expiry_.begin()->first <= horizon) {
    auto it = idempotency_.find(idempotency_expiry_.begin()->second);
    if (it != idempotency_.end() && it->second.at <= horizon) idempotency_.erase(it);
    idempotency_expiry_.erase(idempotency_expiry_.begin());
  }
  while (!request_expiry_.empty() && request_expiry_.begin()->first <= horizon) {
    auto it = requests_.find(request_expiry_.begin()->second);
    if (it != requests_.end() && it->second.at <= horizon) requests_.erase(it);
    request_expiry_.erase(request_expiry_.begin());
  }
}

item* work_queue_state_machine::find(std::string_view work_id) {
  auto it = by_id_.find(work_id);
  return it == by_id_.end() ? nullptr : &items_.at(it->second);
}

const item* work_queue_state_machine::get(std::string_view work_id) const {
  auto it = by_id_.find(work_id);
  return it == by_id_.end() ? nullptr : &items_.at(it->second);
}

void work_queue_state_machine::emit(std::vector<event>& out, std::string_view type, std::string payload) {
  event e;
  e.event_id = join(std::string_view("r:"), decimal(entry_index_), std::string_view(":"), decimal(event_n_++));
  e.type = std::string(type);
  e.payload_json = std::move(payload);
  e.at = clock_;
  out.push_back(std::move(e));
}

void work_queue_state_machine::set_state(item& x, status s) {
  const bool was_active = !is_terminal(x.state);
  if (x.state == status::pending) pending_.erase({-x.priority, x.seq});
  if (holds_claim(x.state)) holding_.erase(x.seq);
  x.state = s;
  x.updated_at = clock_;
  if (s == status::pending) pending_.insert({-x.priority, x.seq});
  if (holds_claim(s)) holding_.insert(x.seq);
  if (is_terminal(s)) {
    x.finished_at = clock_;
    if (was_active) --active_;
  }
}

void work_queue_state_machine::index_item(const item& x) {
  by_id_[x.work_id] = x.seq;
  if (x.state == status::pending) pending_.insert({-x.priority, x.seq});
  if (holds_claim(x.state)) holding_.insert(x.seq);
  if (!is_terminal(x.state)) ++active_;
  for (const auto& d : x.depends_on) dependents_[d].push_back(x.work_id);
}

void work_queue_state_machine::rebuild_indexes() {
  by_id_.clear();
  pending_.clear();
  holding_.clear();
  dependents_.clear();
  idempotency_expiry_.clear();
  request_expiry_.clear();
  active_ = 0;
  for (const auto& [seq, x] : items_) index_item(x);
  for (const auto& [key, rec] : idempotency_) idempotency_expiry_.emplace(rec.at, key);
  for (const auto& [key, rec] : requests_) request_expiry_.emplace(rec.at, key);
}

// ---- add ----

answer work_queue_state_machine::add(std::uint64_t index, const add_command& c) {
  std::uint64_t body_hash = 0;
  if (!c.idempotency_key.empty()) {
    byte_writer body;
    for (const auto& n : c.items) write_new_item(body, n);
    body_hash = fnv1a(body.take());
    if (auto it = idempotency_.find(c.idempotency_key); it != idempotency_.end()) {
      if (it->second.body_hash != body_hash)
        return just(error_reply(code::conflict, "idempotency key reused with another body", "idempotency_key"));
      auto first = reply_from_bytes(it->second.reply_bytes);
      if (!first) return just(error_reply(code::bad_request, "a stored answer is unreadable"));
      first->replayed = true;
      return just(std::move(*first));
    }
  }
  if (c.items.empty()) return just(error_reply(code::bad_request, "no items to add", "items"));
  if (c.items.size() > limits_.max_add_items)
    return just(error_reply(code::bad_request, join(std::string_view("at most "), decimal(limits_.max_add_items),
                                                    std::string_view(" items per add")),
                            "items"));
  if (c.idempotency_key.size() > max_name_bytes)
    return just(error_reply(code::bad_request, "idempotency_key is too long", "idempotency_key"));

  // Validate everything before changing anything: an add is all or nothing.
  std::vector<config_fields> parsed;
  parsed.reserve(c.items.size());
  for (std::size_t i = 0; i < c.items.size(); ++i) {
    const auto& n = c.items[i];
    const std::string where = c.items.size() > 1 ? join(std::string_view(" (item "), decimal(i), std::string_view(")"))
                                                 : std::string();
    if (n.work_type.empty() || n.work_type.size() > max_name_bytes)
      return just(error_reply(code::bad_request, join(std::string_view("work_type must be 1 to 256 bytes"), where),
                              "work_type"));
    if (n.priority < 0 || n.priority > 100)
      return just(error_reply(code::bad_request, join(std::string_view("priority must be 0 to 100"), where), "priority"));
    if (n.max_attempts < 1 || n.max_attempts > 100)
      return just(error_reply(code::bad_request, join(std::string_view("max_attempts must be 1 to 100"), where),
                              "max_attempts"));
    if (n.lease_s < 1)
      return just(error_reply(code::bad_request, join(std::string_view("lease_s must be at least 1"), where), "lease_s"));
    if (n.campaign_id.size() > max_name_bytes)
      return just(error_reply(code::bad_request, join(std::string_view("campaign_id is too long"), where), "campaign_id"));
    if (n.config.size() > limits_.max_payload_bytes)
      return just(error_reply(code::payload_too_large,
                              join(std::string_view("config exceeds "), decimal(limits_.max_payload_bytes),
                                   std::string_view(" bytes"), where),
                              "config"));
    std::string field, why;
    auto f = read_config(n.config, field, why);
    if (!f) return just(error_reply(code::bad_request, join(why, where), field));
    for (const auto& d : n.depends_on) {
      bool known = false;
      if (!d.empty() && d[0] == '#') {
        const auto ref = d.substr(1);
        const bool digits = !ref.empty() && ref.size() < 6 && std::all_of(ref.begin(), ref.end(), [](char ch) {
          return ch >= '0' && ch <= '9';
        });
        known = digits && std::stoul(ref) < i;
      } else {
        known = by_id_.contains(d);
      }
      if (!known)
        return just(error_reply(code::bad_request, join(std::string_view("unknown dependency "), d, where), "depends_on"));
    }
    parsed.push_back(std::move(*f));
  }
  if (active_ + c.items.size() > limits_.max_active_items)
    return just(error_reply(code::backpressure,
                            join(std::string_view("the queue holds "), decimal(active_),
                                 std::string_view(" unfinished items; the limit is "),
                                 decimal(limits_.max_active_items))));

  answer a;
  a.response = ok_reply("queued");
  for (std::size_t i = 0; i < c.items.size(); ++i) {
    const auto& n = c.items[i];
    item x;
    x.work_id = join(std::string_view("w-"), decimal(index), std::string_view("-"), decimal(i));
    x.seq = next_seq_++;
    x.work_type = n.work_type;
    x.priority = n.priority;
    x.config = n.config;
    x.config_key = std::move(parsed[i].config_key);
    x.target_node = std::move(parsed[i].target_node);
    x.exclude_nodes = std::move(parsed[i].exclude_nodes);
    x.required = std::move(parsed[i].required);
    for (const auto& d : n.depends_on)
      x.depends_on.push_back(d[0] == '#' ? a.response.work_ids[std::stoul(d.substr(1))] : d);
    x.campaign_id = n.campaign_id;
    x.max_attempts = n.max_attempts;
    x.lease_s = n.lease_s;
    x.timeout_s = n.timeout_s;
    x.created_at = x.updated_at = clock_;
    index_item(x);
    a.response.work_ids.push_back(x.work_id);
    auto& stored = items_.emplace(x.seq, std::move(x)).first->second;
    emit(a.events, "WORK_QUEUED", [&] {
      json::writer w;
      w.begin_object();
      write_common(w, stored);
      w.field("priority", stored.priority).end_object();
      return w.take();
    }());
    // A dependency that already failed for good: this item can never run.
    for (const auto& d : stored.depends_on) {
      const item* dep = get(d);
      if (dep && is_terminal(dep->state) && dep->state != status::completed) {
        set_state(stored, status::cancelled);
        stored.error = "dependency_failed";
        emit(a.events, "WORK_CANCELLED", work_payload(stored, {{"reason", "dependency_failed"}, {"dependency", d}}));
        break;
      }
    }
  }
  if (!c.idempotency_key.empty()) {
    idempotency_[c.idempotency_key] = dedupe_record{clock_, body_hash, reply_bytes(a.response)};
    idempotency_expiry_.emplace(clock_, c.idempotency_key);
  }
  return a;
}

// ---- claim ----

bool work_queue_state_machine::claimable_by(const item& x, const claim_command& c) const {
  const auto& node = c.node;
  if (!node.work_types.empty() &&
      std::find(node.work_types.begin(), node.work_types.end(), x.work_type) == node.work_types.end())
    return false;
  if (!x.target_node.empty() && x.target_node != node.node_id) return false;
  if (std::find(x.exclude_nodes.begin(), x.exclude_nodes.end(), node.node_id) != x.exclude_nodes.end()) return false;
  for (const auto& [k, v] : x.required.labels) {
    auto it = node.labels.find(k);
    if (it == node.labels.end() || it->second != v) return false;
  }
  if (x.required.gpus > node.gpus) return false;
  if (x.required.min_memory_gb > node.memory_gb) return false;
  for (const auto& d : x.depends_on) {
    const item* dep = get(d);
    if (!dep || dep->state != status::completed) return false;
  }
  return true;
}

answer work_queue_state_machine::claim(std::uint64_t index, const claim_command& c) {
  if (c.node.node_id.empty() || c.node.node_id.size() > max_name_bytes)
    return just(error_reply(code::bad_request, "a claim needs the claiming node's id", "node_id"));
  if (c.request_id.size() > max_name_bytes)
    return just(error_reply(code::bad_request, "request_id is too long", "request_id"));
  const auto request_key = std::make_pair(c.node.node_id, c.request_id);
  if (!c.request_id.empty())
    if (auto it = requests_.find(request_key); it != requests_.end()) {
      auto first = reply_from_bytes(it->second.reply_bytes);
      if (!first) return just(error_reply(code::bad_request, "a stored answer is unreadable"));
      first->replayed = true;
      return just(std::move(*first));
    }
  if (c.max_items < 1 || c.max_items > limits_.max_claim_items)
    return just(error_reply(code::bad_request,
                            join(std::string_view("max_items must be 1 to "), decimal(limits_.max_claim_items)),
                            "max_items"));
  std::vector<std::uint64_t> chosen;
  for (const auto& [neg_priority, seq] : pending_) {
    if (chosen.size() >= c.max_items) break;
    if (claimable_by(items_.at(seq), c)) chosen.push_back(seq);
  }
  answer a;
  a.response = ok_reply(chosen.empty() ? "no_work" : "claimed");
  const std::string token = join(decimal(c.term), std::string_view("."), decimal(index));
  for (auto seq : chosen) {
    auto& x = items_.at(seq);
    set_state(x, status::claimed);
    ++x.attempts;
    x.claimed_by = c.node.node_id;
    x.claim_token = token;
    x.claimed_at = clock_;
    x.started_at = 0;
    x.progress = 0;
    x.progress_message.clear();
    a.response.items.push_back(x);
    emit(a.events, "WORK_CLAIMED", work_payload(x, {{"claim_token", token}}));
  }
  // Only an answer that handed items out is kept for replay: a repeat of a "no_work" answer
  // claims afresh (nothing was given out, so nothing can be claimed twice), which lets a
  // long-poll claim probe again under its one request id.
  if (!c.request_id.empty() && !chosen.empty()) {
    requests_[request_key] = dedupe_record{clock_, 0, reply_bytes(a.response)};
    request_expiry_.emplace(clock_, request_key);
  }
  return a;
}

// ---- a claim's life ----

namespace {
// The answer for a command naming a claim that is not (or no longer) the item's current one.
reply stale_claim(const item& x, std::string_view token) {
  if (token != x.claim_token) return conflict_reply(x, "the claim token is not the item's current claim");
  return conflict_reply(x, join(std::string_view("the item is "), status_name(x.state)));
}
}  // namespace

answer work_queue_state_machine::start(const start_command& c) {
  item* x = find(c.work_id);
  if (!x) return just(error_reply(code::not_found, join(std::string_view("no work item "), c.work_id)));
  if (!holds_claim(x->state) || c.claim_token != x->claim_token) return just(stale_claim(*x, c.claim_token));
  if (x->state == status::claimed) {
    set_state(*x, status::running);
    x->started_at = clock_;
  }
  return just(ok_reply("running"));
}

answer work_queue_state_machine::heartbeat(const heartbeat_command& c) {
  item* x = find(c.work_id);
  if (!x) return just(error_reply(code::not_found, join(std::string_view("no work item "), c.work_id)));
  if (!holds_claim(x->state) || c.claim_token != x->claim_token) return just(stale_claim(*x, c.claim_token));
  if (x->state == status::claimed) {
    set_state(*x, status::running);
    x->started_at = clock_;
  }
  if (c.has_progress) {
    x->progress = std::isfinite(c.progress) ? std::clamp(c.progress, 0.0, 1.0) : 0.0;
    x->progress_message = capped(c.message, max_message_bytes);
  }
  x->updated_at = clock_;
  return just(ok_reply("running"));
}

answer work_queue_state_machine::complete(const complete_command& c) {
  item* x = find(c.work_id);
  if (!x) return just(error_reply(code::not_found, join(std::string_view("no work item "), c.work_id)));
  if (x->state == status::completed && c.claim_token == x->claim_token) return just(ok_reply("duplicate"));
  if (!holds_claim(x->state) || c.claim_token != x->claim_token) return just(stale_claim(*x, c.claim_token));
  if (c.result.size() > limits_.max_payload_bytes)
    return just(error_reply(code::payload_too_large,
                            join(std::string_view("result exceeds "), decimal(limits_.max_payload_bytes),
                                 std::string_view(" bytes; store larger outputs as artifacts")),
                            "result"));
  const std::string_view result = c.result.empty() ? std::string_view("{}") : std::string_view(c.result);
  if (!is_json_object(result)) return just(error_reply(code::bad_request, "result is not a JSON object", "result"));
  if (x->started_at == 0) x->started_at = clock_;
  x->result = std::string(result);
  x->progress = 1;
  set_state(*x, status::completed);
  answer a;
  a.response = ok_reply("completed");
  emit(a.events, "WORK_COMPLETED", work_payload(*x));
  if (x->work_type == "selfplay") emit(a.events, "SELFPLAY_COMPLETE", selfplay_payload(*x));
  if (x->work_type == "training") emit(a.events, "TRAINING_COMPLETED", training_payload(*x, true));
  return a;
}

bool work_queue_state_machine::end_attempt(item& x, status final_state, std::string error, bool retry) {
  x.error = capped(error, max_error_bytes);
  if (retry && x.attempts < x.max_attempts) {
    set_state(x, status::pending);
    x.claimed_by.clear();
    x.claimed_at = 0;
    x.started_at = 0;
    return true;
  }
  set_state(x, final_state);
  return false;
}

void work_queue_state_machine::cascade_dependency_failure(const item& failed, std::vector<event>& events) {
  std::deque<std::string> queue{failed.work_id};
  while (!queue.empty()) {
    const std::string id = std::move(queue.front());
    queue.pop_front();
    auto it = dependents_.find(id);
    if (it == dependents_.end()) continue;
    for (const auto& dependent : it->second) {
      item* d = find(dependent);
      if (!d || d->state != status::pending) continue;
      set_state(*d, status::cancelled);
      d->error = "dependency_failed";
      emit(events, "WORK_CANCELLED", work_payload(*d, {{"reason", "dependency_failed"}, {"dependency", id}}));
      queue.push_back(d->work_id);
    }
  }
}

namespace {
// A failed attempt; `node` ran it (a retried item no longer names its claimant).
std::string attempt_payload(const item& x, bool final, const std::string& node) {
  json::writer w;
  w.begin_object();
  write_common(w, x);
  w.field("node_id", node).field("error", x.error).field("final", final).end_object();
  return w.take();
}
}  // namespace

answer work_queue_state_machine::fail(const fail_command& c) {
  item* x = find(c.work_id);
  if (!x) return just(error_reply(code::not_found, join(std::string_view("no work item "), c.work_id)));
  if (!holds_claim(x->state) || c.claim_token != x->claim_token) return just(stale_claim(*x, c.claim_token));
  const std::string node = x->claimed_by;
  const bool retried = end_attempt(*x, status::failed, c.error.empty() ? std::string("failed") : c.error, c.retryable);
  answer a;
  a.response = ok_reply(status_name(x->state));
  // The payload names the node that failed, though a retried item no longer has a claimant.
  emit(a.events, "WORK_FAILED", attempt_payload(*x, !retried, node));
  if (!retried) {
    if (x->work_type == "training") emit(a.events, "TRAINING_FAILED", training_payload(*x, false));
    cascade_dependency_failure(*x, a.events);
  }
  return a;
}

answer work_queue_state_machine::expire(const expire_command& c) {
  item* x = find(c.work_id);
  if (!x) return just(error_reply(code::not_found, join(std::string_view("no work item "), c.work_id)));
  if (!holds_claim(x->state) || c.claim_token != x->claim_token) return just(stale_claim(*x, c.claim_token));
  const std::string node = x->claimed_by;
  const bool retried = end_attempt(*x, status::failed, std::string(expire_reason_name(c.reason)), true);
  answer a;
  a.response = ok_reply(status_name(x->state));
  emit(a.events, "WORK_FAILED", attempt_payload(*x, !retried, node));
  if (!retried) {
    if (x->work_type == "training") emit(a.events, "TRAINING_FAILED", training_payload(*x, false));
    cascade_dependency_failure(*x, a.events);
  }
  return a;
}

answer work_queue_state_machine::timeout(const timeout_command& c) {
  item* x = find(c.work_id);
  if (!x) return just(error_reply(code::not_found, join(std::string_view("no work item "), c.work_id)));
  if (!holds_claim(x->state) || c.claim_token != x->claim_token) return just(stale_claim(*x, c.claim_token));
  if (x->state != status::running || x->timeout_s == 0 ||
      clock_ < x->started_at + static_cast<time_ms>(x->timeout_s) * 1000)
    return just(conflict_reply(*x, "the item has not run past its time limit"));
  const std::string node = x->claimed_by;
  const bool retried = end_attempt(*x, status::timed_out, "timeout", true);
  answer a;
  a.response = ok_reply(status_name(x->state));
  emit(a.events, "WORK_TIMED_OUT", attempt_payload(*x, !retried, node));
  if (!retried) {
    if (x->work_type == "training") emit(a.events, "TRAINING_FAILED", training_payload(*x, false));
    cascade_dependency_failure(*x, a.events);
  }
  return a;
}

answer work_queue_state_machine::release(const release_command& c) {
  item* x = find(c.work_id);
  if (!x) return just(error_reply(code::not_found, join(std::string_view("no work item "), c.work_id)));
  if (!holds_claim(x->state) || c.claim_token != x->claim_token) return just(stale_claim(*x, c.claim_token));
  const std::string node = x->claimed_by;
  const std::string reason = c.reason.empty() ? std::string("released") : capped(c.reason, max_error_bytes);
  if (x->attempts > 0) --x->attempts;  // never judged: the attempt does not count
  end_attempt(*x, status::pending, reason, true);
  x->progress = 0;
  x->progress_message.clear();
  answer a;
  a.response = ok_reply("pending");
  json::writer w;
  w.begin_object();
  write_common(w, *x);
  w.field("node_id", node).field("reason", "released").end_object();  // the node that gave it back
  emit(a.events, "WORK_QUEUED", w.take());
  return a;
}

answer work_queue_state_machine::cancel(const cancel_command& c) {
  item* x = find(c.work_id);
  if (!x) return just(error_reply(code::not_found, join(std::string_view("no work item "), c.work_id)));
  if (x->state == status::cancelled) return just(ok_reply("cancelled"));
  if (is_terminal(x->state)) return just(conflict_reply(*x, join(std::string_view("the item is already "), status_name(x->state))));
  const std::string reason = c.reason.empty() ? std::string("cancelled") : capped(c.reason, max_error_bytes);
  set_state(*x, status::cancelled);
  x->error = reason;
  answer a;
  a.response = ok_reply("cancelled");
  emit(a.events, "WORK_CANCELLED", work_payload(*x, {{"reason", reason}}));
  cascade_dependency_failure(*x, a.events);
  return a;
}

answer work_queue_state_machine::archive(const archive_command& c) {
  answer a;
  a.response = ok_reply("archived");
  std::vector<std::uint64_t> leaving;
  for (const auto& [seq, x] : items_) {
    if (leaving.size() >= c.max_items) break;
    if (!is_terminal(x.state) || x.finished_at >= c.before) continue;
    // Kept while an unfinished item waits on it: its outcome decides whether that one may run.
    bool needed = false;
    if (auto it = dependents_.find(x.work_id); it != dependents_.end())
      for (const auto& d : it->second)
        if (const item* dep = get(d); dep && !is_terminal(dep->state)) needed = true;
    if (!needed) leaving.push_back(seq);
  }
  for (auto seq : leaving) {
    auto node = items_.extract(seq);
    item& x = node.mapped();
    by_id_.erase(x.work_id);
    dependents_.erase(x.work_id);
    for (const auto& d : x.depends_on)
      if (auto it = dependents_.find(d); it != dependents_.end()) std::erase(it->second, x.work_id);
    a.response.work_ids.push_back(x.work_id);
    a.archived.push_back(std::move(x));
  }
  return a;
}

// ---- queries -------------------------------------------------------------------------------------

list_page work_queue_state_machine::list(const list_filter& f) const {
  list_page page;
  const std::size_t limit = std::clamp<std::size_t>(f.limit, 1, 1000);
  std::uint64_t after = 0;
  if (!f.cursor.empty() && f.cursor.size() < 20 &&
      std::all_of(f.cursor.begin(), f.cursor.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
    after = std::stoull(f.cursor);
  for (auto it = items_.upper_bound(after); it != items_.end(); ++it) {
    const item& x = it->second;
    if (f.state && x.state != *f.state) continue;
    if (!f.work_type.empty() && x.work_type != f.work_type) continue;
    if (!f.claimed_by.empty() && x.claimed_by != f.claimed_by) continue;
    if (page.items.size() == limit) {
      page.next_cursor = decimal(page.items.back().seq);
      break;
    }
    page.items.push_back(x);
  }
  return page;
}

counts work_queue_state_machine::count() const {
  counts c;
  for (int i = 0; i < status_count; ++i) c.by_status[std::string(status_name(static_cast<status>(i)))] = 0;
  for (const auto& [seq, x] : items_) {
    const std::string s(status_name(x.state));
    ++c.by_status[s];
    ++c.by_type[x.work_type][s];
    ++c.total;
  }
  c.active = active_;
  return c;
}

time_ms work_queue_state_machine::oldest_finished() const {
  time_ms oldest = 0;
  for (const auto& [seq, x] : items_)
    if (is_terminal(x.state) && (oldest == 0 || x.finished_at < oldest)) oldest = x.finished_at;
  return oldest;
}

std::vector<item> work_queue_state_machine::recent(std::size_t n) const {
  std::vector<item> out;
  for (auto it = items_.rbegin(); it != items_.rend() && out.size() < n; ++it) out.push_back(it->second);
  return out;
}

std::vector<item> work_queue_state_machine::claimed_by(std::string_view node_id) const {
  std::vector<item> out;
  for (const auto& [seq, x] : items_)
    if (holds_claim(x.state) && x.claimed_by == node_id) out.push_back(x);
  return out;
}

std::vector<claim_info> work_queue_state_machine::claims() const {
  std::vector<claim_info> out;
  out.reserve(holding_.size());
  for (auto seq : holding_) {
    const item& x = items_.at(seq);
    out.push_back({x.work_id, x.claim_token, x.claimed_by, x.state, x.lease_s, x.timeout_s, x.claimed_at, x.started_at});
  }
  return out;
}

// ---- snapshots -----------------------------------------------------------------------------------

std::string work_queue_state_machine::snapshot() const {
  byte_writer w;
  w.raw(snapshot_magic);
  w.u64(next_seq_);
  w.i64(clock_);
  w.u32(static_cast<std::uint32_t>(items_.size()));
  for (const auto& [seq, x] : items_) write_item(w, x);
  w.u32(static_cast<std::uint32_t>(idempotency_.size()));
  for (const auto& [key, rec] : idempotency_) {
    w.str(key);
    w.i64(rec.at);
    w.u64(rec.body_hash);
    w.str(rec.reply_bytes);
  }
  w.u32(static_cast<std::uint32_t>(requests_.size()));
  for (const auto& [key, rec] : requests_) {
    w.str(key.first);
    w.str(key.second);
    w.i64(rec.at);
    w.str(rec.reply_bytes);
  }
  return w.take();
}

void work_queue_state_machine::restore(std::string_view data) {
  byte_reader r(data);
  if (!r.expect(snapshot_magic)) throw std::invalid_argument("not a work-queue snapshot");
  const auto next_seq = r.u64();
  const auto clock = r.i64();
  std::map<std::uint64_t, item> items;
  for (auto n = r.count(min_item_bytes); n > 0 && r.ok(); --n) {
    auto x = read_item(r);
    if (x.work_id.empty() || x.seq == 0 || x.seq >= next_seq || !items.emplace(x.seq, std::move(x)).second)
      throw std::invalid_argument("a work-queue snapshot holds an invalid item");
  }
  std::map<std::string, dedupe_record, std::less<>> idempotency;
  for (auto n = r.count(24); n > 0 && r.ok(); --n) {
    auto key = r.str();
    dedupe_record rec;
    rec.at = r.i64();
    rec.body_hash = r.u64();
    rec.reply_bytes = r.str();
    idempotency[std::move(key)] = std::move(rec);
  }
  std::map<std::pair<std::string, std::string>, dedupe_record> requests;
  for (auto n = r.count(20); n > 0 && r.ok(); --n) {
    auto node = r.str();
    auto id = r.str();
    dedupe_record rec;
    rec.at = r.i64();
    rec.reply_bytes = r.str();
    requests[{std::move(node), std::move(id)}] = std::move(rec);
  }
  if (!r.done()) throw std::invalid_argument("a work-queue snapshot is cut short or has trailing bytes");
  items_ = std::move(items);
  idempotency_ = std::move(idempotency);
  requests_ = std::move(requests);
  next_seq_ = next_seq;
  clock_ = clock;
  rebuild_indexes();
}

}  // namespace p2p::work
