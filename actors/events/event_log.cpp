#include "actors/events/event_log.hpp"

#include <unistd.h>

#include <simdjson.h>

#include <fstream>
#include <stdexcept>

#include "protocol/common/files.hpp"
#include "protocol/common/json.hpp"
#include "protocol/common/log.hpp"
#include "protocol/messages/events_codec.hpp"

namespace p2p {
namespace {

std::string line_of(const msg::event_record& e) {
  return "{\"seq\":" + std::to_string(e.seq) + ",\"event\":" + codec::envelope_json(e) + "}\n";
}

bool parse_line(simdjson::dom::parser& parser, const std::string& line, msg::event_record& e) {
  simdjson::dom::element doc;
  if (parser.parse(line).get(doc)) return false;
  simdjson::dom::element ev, payload;
  std::string_view event_id, type, scope, timestamp, origin;
  if (doc["seq"].get(e.seq) || doc["event"].get(ev) || ev["event_id"].get(event_id) ||
      ev["type"].get(type) || ev["scope"].get(scope) || ev["timestamp"].get(timestamp) ||
      ev["origin_node"].get(origin) || ev["term"].get(e.term) || ev["payload"].get(payload))
    return false;
  e.event_id = event_id;
  e.type = type;
  e.scope = scope;
  e.timestamp = timestamp;
  e.origin_node = origin;
  e.payload_json = simdjson::minify(payload);
  return true;
}

}  // namespace

event_log::event_log(std::filesystem::path dir, std::size_t retain)
    : file_(dir / "events.jsonl"), retain_(std::max<std::size_t>(retain, 1)) {
  files::ensure_dir(dir);
  std::ifstream in(file_);
  std::string line;
  simdjson::dom::parser parser;
  std::size_t bad = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    msg::event_record e;
    if (!parse_line(parser, line, e) || e.seq <= last_seq_) {
      ++bad;
      continue;
    }
    ++lines_in_file_;
    last_seq_ = e.seq;
    retained_.push_back(std::move(e));
    if (retained_.size() > retain_) retained_.pop_front();
  }
  if (bad > 0)
    log::warn("events", "skipped unreadable lines in the event log",
              {{"file", json::quote(file_.string())}, {"lines", std::to_string(bad)}});
  // Rewrite when anything was skipped, so appends never follow a torn line.
  if (bad > 0 || lines_in_file_ > 2 * retain_) compact();
  open_for_append();
}

event_log::~event_log() {
  if (out_) {
    sync();
    std::fclose(out_);
  }
}

void event_log::open_for_append() {
  out_ = std::fopen(file_.c_str(), "ae");
  if (!out_) throw std::runtime_error("cannot open event log " + file_.string());
}

void event_log::append(msg::event_record& e) {
  e.seq = ++last_seq_;
  auto line = line_of(e);
  // Flushed per event: a killed process loses nothing the kernel already has.
  if (std::fwrite(line.data(), 1, line.size(), out_) != line.size() || std::fflush(out_) != 0)
    log::error("events", "cannot write the event log", {{"file", json::quote(file_.string())}});
  ++lines_in_file_;
  retained_.push_back(e);
  if (retained_.size() > retain_) retained_.pop_front();
  if (lines_in_file_ > 2 * retain_) {
    std::fclose(out_);
    out_ = nullptr;
    compact();
    open_for_append();
  }
}

void event_log::sync() {
  if (!out_) return;
  std::fflush(out_);
  ::fsync(::fileno(out_));
}

void event_log::compact() {
  std::string content;
  for (const auto& e : retained_) content += line_of(e);
  files::write_atomic(file_, content);
  lines_in_file_ = retained_.size();
}

}  // namespace p2p
