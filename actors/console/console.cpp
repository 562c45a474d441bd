#include "actors/console/console.hpp"

#include <signal.h>

#include <boost/program_options.hpp>
#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>
#include <editline/readline.h>
#include <simdjson.h>

#include <atomic>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>

#include "actors/common/api_error.hpp"
#include "actors/node/config.hpp"
#include "protocol/common/files.hpp"
#include "protocol/common/json.hpp"
#include "protocol/messages/admin.hpp"
#include "protocol/messages/admin_codec.hpp"
#include "protocol/messages/directory.hpp"
#include "protocol/messages/election.hpp"
#include "protocol/messages/election_codec.hpp"
#include "protocol/messages/events.hpp"
#include "protocol/messages/events_codec.hpp"
#include "protocol/messages/introspection.hpp"
#include "protocol/messages/membership.hpp"
#include "protocol/messages/membership_codec.hpp"
#include "protocol/messages/elo.hpp"
#include "protocol/messages/elo_codec.hpp"
#include "protocol/messages/raft.hpp"
#include "protocol/messages/raft_codec.hpp"
#include "protocol/messages/work.hpp"
#include "protocol/messages/work_codec.hpp"
#include "protocol/registry.hpp"

namespace p2p::console {

namespace po = boost::program_options;

std::vector<std::string> split_words(const std::string& line) {
  std::vector<std::string> words;
  std::string current;
  bool quoted = false, any = false;
  for (char c : line) {
    if (c == '"') {
      quoted = !quoted;
      any = true;
    } else if (!quoted && (c == ' ' || c == '\t')) {
      if (any) words.push_back(current);
      current.clear();
      any = false;
    } else {
      current += c;
      any = true;
    }
  }
  if (any) words.push_back(current);
  return words;
}

namespace {

struct options {
  host_port endpoint;
  std::vector<std::string> commands;
  bool json = false;
  std::string tls_cert, tls_key, tls_ca;
  std::chrono::milliseconds timeout{5000};
};

// Indents a JSON document for people; --json prints it as it came.
std::string pretty(std::string_view text) {
  std::string out;
  int depth = 0;
  bool in_string = false, escaped = false;
  auto newline = [&] { out += '\n' + std::string(static_cast<std::size_t>(depth) * 2, ' '); };
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      out += c;
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    switch (c) {
      case '"': in_string = true; out += c; break;
      case '{':
      case '[':
        out += c;
        if (i + 1 < text.size() && (text[i + 1] == '}' || text[i + 1] == ']')) {
          out += text[++i];
        } else {
          ++depth;
          newline();
        }
        break;
      case '}':
      case ']': --depth; newline(); out += c; break;
      case ',': out += c; newline(); break;
      case ':': out += ": "; break;
      default: out += c;
    }
  }
  return out;
}

// Columns as wide as their widest cell, two spaces apart.
void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], r[i].size());
    }
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line.append(width[i] - r[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  }
}

const char* const command_names[] = {"actors", "inspect", "health", "members", "raft", "leader", "election",
                                     "elo", "work", "events", "send", "help", "quit"};

const char* help_text =
    "commands:\n"
    "  actors                      every actor: name, mailbox, handled, restarts, state\n"
    "  inspect ACTOR               one actor's full state as JSON, and its safe commands\n"
    "  health                      the node's health\n"
    "  members                     SWIM's members: state, incarnation, address, connection\n"
    "  raft                        this node's Raft state, and each follower's progress\n"
    "  leader                      the leader and term this node knows (exit 1 when none)\n"
    "  election                    the view of leadership; on the leader, followers and stragglers\n"
    "  elo [CONFIG_KEY [elo]]      the match store; with a key, its ratings (bayes, or classic elo)\n"
    "  work [RECENT]               the work queue: counts by status and type, the newest items (10)\n"
    "  events tail [TYPES]         live events (comma-separated types), until Ctrl-C\n"
    "  send ACTOR COMMAND [ARGS]   run a command the actor declares safe (see inspect)\n"
    "  help                        this text\n"
    "  quit                        leave\n";

class session {
 public:
  session(caf::actor_system& sys, caf::actor directory, const options& opts)
      : sys_(sys), self_(sys), directory_(std::move(directory)), opts_(opts) {}

  int run(const std::vector<std::string>& words) {
    if (words.empty()) return exit_ok;
    const auto& cmd = words[0];
    if (cmd == "help") {
      std::cout << help_text;
      return exit_ok;
    }
    if (cmd == "actors" && words.size() == 1) return actors();
    if (cmd == "inspect" && words.size() == 2) return inspect(words[1]);
    if (cmd == "health" && words.size() == 1) return health();
    if (cmd == "members" && words.size() == 1) return members();
    if (cmd == "raft" && words.size() == 1) return raft();
    if (cmd == "leader" && words.size() == 1) return leader();
    if (cmd == "election" && words.size() == 1) return election();
    if (cmd == "elo" && words.size() == 1) return elo_status();
    if (cmd == "elo" && (words.size() == 2 || (words.size() == 3 && (words[2] == "elo" || words[2] == "bayes"))))
      return elo_rankings(words[1], words.size() == 3 ? words[2] : "bayes");
    if (cmd == "work" && words.size() <= 2) return work(words.size() == 2 ? words[1] : "10");
    if (cmd == "events" && words.size() >= 2 && words.size() <= 3 && words[1] == "tail")
      return tail(words.size() == 3 ? words[2] : "");
    if (cmd == "send" && words.size() >= 3)
      return send(words[1], words[2], std::vector<std::string>(words.begin() + 3, words.end()));
    return fail("unknown or malformed command '" + join(words) + "' (try help)", exit_usage);
  }

  std::vector<std::string> actor_names() {
    std::vector<std::string> names{"directory"};
    if (auto entries = ask<std::vector<msg::directory_entry>>(directory_, msg::directory_list{}))
      for (const auto& e : *entries) names.push_back(e.name);
    return names;
  }

  bool connected() const { return !lost_; }

 private:
  static std::string join(const std::vector<std::string>& words) {
    std::string out;
    for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
    return out;
  }

  int fail(const std::string& message, int code = exit_command_failed) {
    if (opts_.json) {
      json::writer w;
      w.begin_object().field("error", message).end_object();
      std::cerr << w.str() << "\n";
    } else {
      std::cerr << "error: " << message << "\n";
    }
    return code;
  }

  template <class Reply, class Request>
  std::optional<Reply> ask(const caf::actor& dest, Request req) {
    std::optional<Reply> out;
    last_error_.clear();
    self_->request(dest, opts_.timeout, std::move(req))
        .receive([&](Reply& r) { out = std::move(r); },
                 [&](caf::error& err) {
                   last_error_ = describe_error(err);
                   if (err == caf::sec::request_receiver_down) lost_ = true;
                 });
    return out;
  }

  // The handle of a named actor, or an explanation.
  std::optional<caf::actor> find(const std::string& name) {
    if (name == "directory") return directory_;
    auto handle = ask<caf::actor>(directory_, msg::directory_lookup{name});
    if (!handle) {
      fail("cannot ask the directory: " + last_error_);
      return std::nullopt;
    }
    if (!*handle) {
      std::string known;
      for (const auto& n : actor_names()) known += (known.empty() ? "" : ", ") + n;
      fail("no running actor named '" + name + "' (actors: " + known + ")");
      return std::nullopt;
    }
    return *handle;
  }

  int actors() {
    auto entries = ask<std::vector<msg::directory_entry>>(directory_, msg::directory_list{});
    if (!entries) return fail("cannot list actors: " + last_error_);
    entries->insert(entries->begin(), msg::directory_entry{"directory", directory_, 0, {}});
    struct row {
      msg::directory_entry entry;
      std::optional<msg::introspect_reply> info;
    };
    std::vector<row> rows;
    for (auto& e : *entries) {
      std::optional<msg::introspect_reply> info;
      if (e.handle) info = ask<msg::introspect_reply>(e.handle, msg::introspect_request{});
      rows.push_back({e, info});
    }
    if (opts_.json) {
      json::writer w;
      w.begin_array();
      for (const auto& r : rows) {
        w.begin_object().field("name", r.entry.name).field("running", r.info.has_value());
        w.field("restarts", r.entry.restarts);
        if (r.info) {
          w.field("mailbox", r.info->mailbox).field("handled", r.info->handled);
          w.field("last_error", r.info->last_error).key("state").raw(r.info->state_json);
        }
        w.end_object();
      }
      w.end_array();
      std::cout << w.str() << "\n";
      return exit_ok;
    }
    std::printf("%-12s %8s %10s %8s  %s\n", "NAME", "MAILBOX", "HANDLED", "RESTARTS", "STATE");
    for (const auto& r : rows) {
      std::string state = r.info ? r.info->state_json : "(not running)";
      if (state.size() > 90) state = state.substr(0, 87) + "...";
      std::printf("%-12s %8s %10s %8llu  %s\n", r.entry.name.c_str(),
                  r.info ? std::to_string(r.info->mailbox).c_str() : "-",
                  r.info ? std::to_string(r.info->handled).c_str() : "-",
                  static_cast<unsigned long long>(r.entry.restarts), state.c_str());
    }
    return exit_ok;
  }

  int inspect(const std::string& name) {
    auto handle = find(name);
    if (!handle) return exit_command_failed;
    auto info = ask<msg::introspect_reply>(*handle, msg::introspect_request{});
    if (!info) return fail("cannot inspect " + name + ": " + last_error_);
    json::writer w;
    w.begin_object()
        .field("name", info->name)
        .field("mailbox", info->mailbox)
        .field("handled", info->handled)
        .field("last_error", info->last_error)
        .key("state")
        .raw(info->state_json)
        .key("commands")
        .begin_array();
    for (const auto& c : info->commands) w.value(c);
    w.end_array().end_object();
    std::cout << (opts_.json ? w.str() : pretty(w.str())) << "\n";
    return exit_ok;
  }

  int health() {
    auto admin = find("admin");
    if (!admin) return exit_command_failed;
    auto reply = ask<msg::health_reply>(*admin, msg::health_request{});
    if (!reply) return fail("no health answer: " + last_error_);
    auto text = codec::encode(*reply);
    std::cout << (opts_.json ? text : pretty(text)) << "\n";
    return exit_ok;
  }

  int members() {
    auto swim = find("swim");
    if (!swim) return exit_command_failed;
    auto reply = ask<msg::swim_members_reply>(*swim, msg::swim_members_request{});
    if (!reply) return fail("no members answer: " + last_error_);
    if (opts_.json) {
      std::cout << codec::encode(*reply) << "\n";
      return exit_ok;
    }
    // The connection column comes from the peers actor; without it the table still stands.
    std::map<std::string, std::string> connections;
    if (auto peers = find("peers"))
      if (auto listed = ask<msg::peers_reply>(*peers, msg::peers_request{}))
        for (const auto& p : listed->peers) connections[p.node_id] = p.connection;
    std::vector<std::vector<std::string>> rows{{"NODE", "STATE", "INCARNATION", "ADDRESS", "CONNECTION", "SINCE"}};
    for (std::size_t i = 0; i < reply->members.size(); ++i) {
      const auto& m = reply->members[i];
      auto c = connections.find(m.node_id);
      rows.push_back({m.node_id, m.state, std::to_string(m.incarnation), m.address,
                      i == 0 ? "self" : (c == connections.end() ? "idle" : c->second), m.since});
    }
    print_table(rows);
    return exit_ok;
  }

  // Asks the actor `name` for its status; a missing actor or no answer is reported.
  template <class Reply, class Request>
  std::optional<Reply> status_of(const std::string& name, const std::string& what) {
    auto actor = find(name);
    if (!actor) return std::nullopt;
    auto reply = ask<Reply>(*actor, Request{});
    if (!reply) fail("no " + what + " answer: " + last_error_);
    return reply;
  }

  static std::string comma_list(const std::vector<std::string>& xs) {
    std::string out;
    for (const auto& x : xs) out.append(out.empty() ? "" : ",").append(x);
    return out.empty() ? std::string("-") : out;
  }

  std::optional<msg::raft_status_reply> raft_status() {
    return status_of<msg::raft_status_reply, msg::raft_status_request>("raft", "Raft");
  }

  int raft() {
    auto r = raft_status();
    if (!r) return exit_command_failed;
    if (opts_.json) {
      std::cout << codec::encode(*r) << "\n";
      return exit_ok;
    }
    print_table({{"state", r->state},
                 {"term", std::to_string(r->term)},
                 {"leader", r->leader_id.empty() ? "(none known)" : r->leader_id},
                 {"commit", std::to_string(r->commit_index)},
                 {"applied", std::to_string(r->last_applied)},
                 {"last log", std::to_string(r->last_log_index)},
                 {"snapshot", std::to_string(r->snapshot_index)},
                 {"voters", comma_list(r->voters)},
                 {"non-voters", comma_list(r->learners)},
                 {"cluster", r->cluster_id.empty() ? "(not known yet)" : r->cluster_id},
                 {"profile", r->profile}});
    if (!r->peers.empty()) {
      std::cout << "\n";
      std::vector<std::vector<std::string>> rows{{"FOLLOWER", "MATCH", "NEXT", "LAG", "SNAPSHOT"}};
      for (const auto& p : r->peers)
        rows.push_back({p.node_id, std::to_string(p.match_index), std::to_string(p.next_index),
                        std::to_string(r->last_log_index - std::min(r->last_log_index, p.match_index)),
                        p.snapshot ? "sending" : "-"});
      print_table(rows);
    }
    return exit_ok;
  }

  int elo_status() {
    auto elo = find("elo");
    if (!elo) return exit_command_failed;
    auto r = ask<msg::elo_status_reply>(*elo, msg::elo_status_request{});
    if (!r) return fail("no elo answer: " + last_error_);
    if (opts_.json) {
      std::cout << codec::encode(*r) << "\n";
      return exit_ok;
    }
    print_table({{"games", std::to_string(r->games)},
                 {"records", std::to_string(r->rows)},
                 {"conflicts", std::to_string(r->conflicts)},
                 {"origins", std::to_string(r->marks.size())},
                 {"sync rounds", std::to_string(r->sync_rounds)},
                 {"rows received", std::to_string(r->rows_received)},
                 {"rows sent", std::to_string(r->rows_sent)}});
    if (!r->config_keys.empty()) {
      std::cout << "\n";
      std::vector<std::vector<std::string>> rows{{"CONFIG_KEY", "GAMES", "PLAYERS"}};
      for (const auto& k : r->config_keys)
        rows.push_back({k.config_key, std::to_string(k.games), std::to_string(k.players)});
      print_table(rows);
    }
    return exit_ok;
  }

  int elo_rankings(const std::string& config_key, const std::string& method) {
    auto elo = find("elo");
    if (!elo) return exit_command_failed;
    msg::elo_rankings_request req;
    req.config_key = config_key;
    req.method = method;
    auto r = ask<msg::elo_rankings_reply>(*elo, std::move(req));
    if (!r) return fail("no rankings: " + last_error_);
    if (opts_.json) {
      std::cout << codec::encode(*r) << "\n";
      return exit_ok;
    }
    auto fixed = [](double v) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.1f", v);
      return std::string(buf);
    };
    std::vector<std::vector<std::string>> rows{{"#", "PLAYER", "RATING", "95% INTERVAL", "GAMES", "W/D/L", "SCORE"}};
    std::size_t rank = 0;
    for (const auto& p : r->players)
      rows.push_back({std::to_string(++rank), p.player, fixed(p.rating),
                      method == "bayes" ? fixed(p.ci_low) + " .. " + fixed(p.ci_high) : "-",
                      std::to_string(p.games),
                      std::to_string(p.wins) + "/" + std::to_string(p.draws) + "/" + std::to_string(p.losses),
                      fixed(100 * p.score) + "%"});
    print_table(rows);
    return exit_ok;
  }

  int work(const std::string& recent_text) {
    std::uint32_t recent = 0;
    auto [end, ec] = std::from_chars(recent_text.data(), recent_text.data() + recent_text.size(), recent);
    if (ec != std::errc() || end != recent_text.data() + recent_text.size() || recent < 1 || recent > 1000)
      return fail("usage: work [RECENT] (1 to 1000 items)", exit_usage);
    auto queue = find("work_queue");
    if (!queue) return exit_command_failed;
    auto r = ask<msg::work_overview_reply>(*queue, msg::work_overview_request{recent});
    if (!r) return fail("no work queue answer: " + last_error_);
    if (opts_.json) {
      std::cout << codec::encode(*r) << "\n";
      return exit_ok;
    }
    std::vector<std::vector<std::string>> counts{{"STATUS", "ITEMS"}};
    for (const auto& c : r->by_status) counts.push_back({c.status, std::to_string(c.count)});
    counts.push_back({"total", std::to_string(r->total)});
    counts.push_back({"archived", std::to_string(r->archived)});
    print_table(counts);
    if (!r->by_type.empty()) {
      std::cout << "\n";
      std::vector<std::vector<std::string>> types{{"WORK_TYPE", "STATUS", "ITEMS"}};
      for (const auto& c : r->by_type) types.push_back({c.work_type, c.status, std::to_string(c.count)});
      print_table(types);
    }
    if (!r->recent.empty()) {
      std::cout << "\n";
      std::vector<std::vector<std::string>> items{{"WORK_ID", "TYPE", "STATUS", "ATTEMPTS", "CLAIMED_BY", "UPDATED"}};
      for (const auto& x : r->recent)
        items.push_back({x.work_id, x.work_type, std::string(work::status_name(x.state)),
                         std::to_string(x.attempts) + "/" + std::to_string(x.max_attempts),
                         x.claimed_by.empty() ? "-" : x.claimed_by, codec::format_work_time(x.updated_at)});
      print_table(items);
    }
    return exit_ok;
  }

  std::optional<msg::election_status_reply> election_status() {
    return status_of<msg::election_status_reply, msg::election_status_request>("election", "election");
  }

  int election() {
    auto r = election_status();
    if (!r) return exit_command_failed;
    if (opts_.json) {
      std::cout << codec::encode(*r) << "\n";
      return exit_ok;
    }
    print_table({{"role", r->role},
                 {"leader", r->leader_id.empty() ? "(none known)" : r->leader_id},
                 {"term", std::to_string(r->term)},
                 {"lease left", std::to_string(r->lease_remaining_ms) + " ms"},
                 {"leader http", r->endpoints.http.empty() ? "-" : r->endpoints.http},
                 {"leader cluster", r->endpoints.cluster.empty() ? "-" : r->endpoints.cluster},
                 {"followers", comma_list(r->followers)},
                 {"stragglers", comma_list(r->stragglers)}});
    if (!r->members.empty()) {
      std::cout << "\n";
      std::vector<std::vector<std::string>> rows{{"MEMBER", "FOLLOWS", "TERM", "LAST VOTE"}};
      for (const auto& m : r->members)
        rows.push_back({m.node_id, m.leader_id.empty() ? "-" : m.leader_id, std::to_string(m.term),
                        m.last_vote_ms_ago < 0 ? "never" : std::to_string(m.last_vote_ms_ago) + " ms ago"});
      print_table(rows);
    }
    return exit_ok;
  }

  // The election view is this node's one answer to "who leads", on voters and non-voters alike.
  int leader() {
    auto r = election_status();
    if (!r) return exit_command_failed;
    if (opts_.json) {
      json::writer w;
      w.begin_object().key("leader_id");
      if (r->leader_id.empty()) w.null();
      else w.value(r->leader_id);
      w.field("term", r->term).field("self", r->leader_id == r->node_id).end_object();
      std::cout << w.take() << "\n";
    } else if (r->leader_id.empty()) {
      std::cout << "no leader known (term " << r->term << ")\n";
    } else {
      std::cout << r->leader_id << (r->leader_id == r->node_id ? " (this node)" : "") << ", term " << r->term << "\n";
    }
    return r->leader_id.empty() ? exit_command_failed : exit_ok;
  }

  int send(const std::string& actor, const std::string& command, std::vector<std::string> args) {
    auto handle = find(actor);
    if (!handle) return exit_command_failed;
    auto reply = ask<std::string>(*handle, msg::console_command{command, std::move(args)});
    if (!reply) return fail(actor + " " + command + ": " + last_error_);
    std::cout << (opts_.json ? *reply : pretty(*reply)) << "\n";
    return exit_ok;
  }

  int tail(const std::string& types_text) {
    std::vector<std::string> types;
    if (auto unknown = codec::parse_event_types(types_text, types))
      return fail("unknown event type " + *unknown, exit_usage);
    auto events = find("events");
    if (!events) return exit_command_failed;
    auto ended = std::make_shared<std::atomic<bool>>(false);
    auto failed = std::make_shared<std::atomic<bool>>(false);
    bool json_out = opts_.json;
    auto timeout = opts_.timeout;
    // Ctrl-C ends the tail, not the console.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigset_t previous;
    pthread_sigmask(SIG_BLOCK, &stop_signals, &previous);
    auto printer = sys_.spawn([=](caf::event_based_actor* self) -> caf::behavior {
      self->monitor(*events);
      self->set_down_handler([=](caf::down_msg&) {
        std::fprintf(stderr, "event stream ended (the node stopped)\n");
        ended->store(true);
        self->quit();
      });
      self->request(*events, timeout, msg::subscribe_events{false, 0, types})
          .then(
              [=](msg::subscribe_reply& r) {
                std::fprintf(stderr, "subscribed at event %llu; Ctrl-C stops\n",
                             static_cast<unsigned long long>(r.last_seq));
              },
              [=](caf::error& err) {
                std::fprintf(stderr, "error: cannot subscribe: %s\n", describe_error(err).c_str());
                failed->store(true);
                ended->store(true);
                self->quit();
              });
      return {
          [=](msg::event_record& e) {
            std::string line;
            if (json_out) {
              line = codec::envelope_json(e);
            } else {
              line = e.timestamp + "  " + std::to_string(e.seq) + "  " + e.type + "  " +
                     e.origin_node + "  " + e.payload_json;
            }
            line += '\n';
            std::fwrite(line.data(), 1, line.size(), stdout);
            std::fflush(stdout);
          },
      };
    });
    timespec tick{0, 200'000'000};
    while (!ended->load()) {
      if (sigtimedwait(&stop_signals, nullptr, &tick) > 0) break;
    }
    caf::anon_send_exit(printer, caf::exit_reason::user_shutdown);
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    return failed->load() ? exit_command_failed : exit_ok;
  }

  caf::actor_system& sys_;
  caf::scoped_actor self_;
  caf::actor directory_;
  const options& opts_;
  std::string last_error_;
  bool lost_ = false;
};

// Completion for the interactive mode: command names, then actor names.
std::vector<std::string> g_actor_names;

char* complete_from(const char* text, int state, const std::vector<std::string>& words) {
  static std::size_t index;
  if (state == 0) index = 0;
  std::string prefix(text);
  while (index < words.size()) {
    const auto& w = words[index++];
    if (w.rfind(prefix, 0) == 0) return strdup(w.c_str());
  }
  return nullptr;
}

char* command_generator(const char* text, int state) {
  static const std::vector<std::string> names(std::begin(command_names), std::end(command_names));
  return complete_from(text, state, names);
}
char* actor_generator(const char* text, int state) {
  return complete_from(text, state, g_actor_names);
}

char** complete(const char* text, int start, int) {
  rl_attempted_completion_over = 1;
  std::string line(rl_line_buffer, static_cast<std::size_t>(start));
  auto words = split_words(line);
  if (words.empty()) return rl_completion_matches(text, command_generator);
  if ((words[0] == "inspect" || words[0] == "send") && words.size() == 1)
    return rl_completion_matches(text, actor_generator);
  if (words[0] == "events" && words.size() == 1) {
    return rl_completion_matches(text, [](const char* t, int s) {
      static const std::vector<std::string> tail{"tail"};
      return complete_from(t, s, tail);
    });
  }
  return nullptr;
}

int interactive(session& s, const options& opts) {
  g_actor_names = s.actor_names();
  rl_attempted_completion_function = complete;
  std::string history;
  if (const char* home = std::getenv("HOME")) history = std::string(home) + "/.p2p_console_history";
  if (!history.empty()) read_history(history.c_str());
  std::printf("connected to %s; type help for commands\n", opts.endpoint.str().c_str());
  int last = exit_ok;
  while (char* raw = readline("p2p> ")) {
    std::string line(raw);
    std::free(raw);
    auto words = split_words(line);
    if (words.empty()) continue;
    add_history(line.c_str());
    if (words[0] == "quit" || words[0] == "exit") break;
    last = s.run(words);
    if (words[0] == "actors") g_actor_names = s.actor_names();
    if (!s.connected()) {
      std::fprintf(stderr, "connection to the node lost\n");
      last = exit_cannot_connect;
      break;
    }
  }
  if (!history.empty()) write_history(history.c_str());
  return last;
}

std::optional<host_port> endpoint_from_data_dir(const std::filesystem::path& dir, std::string& why) {
  auto text = files::read_all(dir / "endpoints.json");
  if (!text) {
    why = "no endpoints.json in " + dir.string() + " (is a node running there?)";
    return std::nullopt;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view cluster;
  if (parser.parse(*text).get(doc)) {
    why = "unreadable " + (dir / "endpoints.json").string();
    return std::nullopt;
  }
  if (doc["cluster"].get(cluster)) {
    why = "the node in " + dir.string() + " runs with --cluster-port=off";
    return std::nullopt;
  }
  auto hp = parse_host_port(cluster);
  if (!hp) why = "bad cluster endpoint in endpoints.json";
  return hp;
}

}  // namespace

int main(int argc, char** argv) {
  options opts;
  std::string connect, data_dir;
  long timeout_ms = 5000;
  po::options_description desc(
      "p2p-console: inspect a p2p-node's actors over its cluster port.\n"
      "Without -c it is interactive (history, tab completion). Exit codes: 0 ok, 1 command\n"
      "failed, 2 usage, 3 cannot connect.\nOptions");
  desc.add_options()("help,h", "print this help")
      ("connect", po::value(&connect), "HOST:PORT of the node's cluster port")
      ("data-dir", po::value(&data_dir), "read the cluster endpoint from DIR/endpoints.json "
                                         "(default: the node's default data dir)")
      ("command,c", po::value(&opts.commands)->composing(), "run this command and exit; repeatable")
      ("json", po::bool_switch(&opts.json), "machine-readable output")
      ("tls-cert", po::value(&opts.tls_cert), "operator certificate (PEM) when the cluster uses TLS")
      ("tls-key", po::value(&opts.tls_key), "operator private key (PEM)")
      ("tls-ca", po::value(&opts.tls_ca), "the cluster CA (PEM)")
      ("timeout-ms", po::value(&timeout_ms)->default_value(5000), "per-request timeout");
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);
    po::notify(vm);
    if (vm.count("help")) {
      std::cout << desc << "\n" << help_text;
      return exit_ok;
    }
  } catch (const po::error& e) {
    std::cerr << "p2p-console: " << e.what() << " (see --help)\n";
    return exit_usage;
  }
  if (timeout_ms <= 0) {
    std::cerr << "p2p-console: --timeout-ms must be positive\n";
    return exit_usage;
  }
  opts.timeout = std::chrono::milliseconds(timeout_ms);
  int tls_given = !opts.tls_cert.empty() + !opts.tls_key.empty() + !opts.tls_ca.empty();
  if (tls_given != 0 && tls_given != 3) {
    std::cerr << "p2p-console: TLS needs all of --tls-cert, --tls-key and --tls-ca\n";
    return exit_usage;
  }
  if (!connect.empty() && !data_dir.empty()) {
    std::cerr << "p2p-console: give --connect or --data-dir, not both\n";
    return exit_usage;
  }
  if (!connect.empty()) {
    auto hp = parse_host_port(connect);
    if (!hp) {
      std::cerr << "p2p-console: --connect must be HOST:PORT, got '" << connect << "'\n";
      return exit_usage;
    }
    opts.endpoint = *hp;
  } else {
    std::filesystem::path dir = data_dir;
    if (dir.empty())
      dir = default_data_dir(std::getenv("HOME"), std::getenv("XDG_STATE_HOME")).value_or("");
    std::string why;
    auto hp = endpoint_from_data_dir(dir, why);
    if (!hp) {
      std::cerr << "p2p-console: cannot connect: " << why << "\n";
      return exit_cannot_connect;
    }
    opts.endpoint = *hp;
  }

  caf::actor_system_config cfg;
  cfg.load<caf::io::middleman>();
  if (tls_given == 3) {
    cfg.load<caf::openssl::manager>();
    cfg.set("openssl.certificate", opts.tls_cert);
    cfg.set("openssl.key", opts.tls_key);
    cfg.set("openssl.cafile", opts.tls_ca);
  }
  register_messages(cfg);
  cfg.set("scheduler.policy", caf::atom("sharing"));
  cfg.set("scheduler.max-threads", std::size_t{2});
  cfg.set("middleman.app-identifiers",
          std::vector<std::string>{"p2p-orchestrator/" + std::to_string(P2P_WIRE_VERSION)});
  cfg.set("logger.console", caf::atom("none"));
  // CAF's threads never take SIGINT/SIGTERM: only the main thread does, where Ctrl-C either
  // ends an events tail (sigtimedwait) or, anywhere else, the console.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  caf::actor_system sys{cfg};
  pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);
  auto remote = tls_given == 3
                    ? caf::openssl::remote_actor(sys, opts.endpoint.host, opts.endpoint.port)
                    : sys.middleman().remote_actor(opts.endpoint.host, opts.endpoint.port);
  if (!remote) {
    std::cerr << "p2p-console: cannot connect to " << opts.endpoint.host << " port "
              << opts.endpoint.port << ": " << sys.render(remote.error()) << "\n";
    return exit_cannot_connect;
  }
  session s(sys, *remote, opts);
  if (opts.commands.empty()) return interactive(s, opts);
  int code = exit_ok;
  for (const auto& c : opts.commands) {
    code = s.run(split_words(c));
    if (code != exit_ok) break;
  }
  if (!s.connected()) return exit_cannot_connect;
  return code;
}

}  // namespace p2p::console
