#pragma once
// Messages every actor answers, for the console: what it is and what state it holds, plus the
// commands it declares safe for an operator to send.
#include <cstdint>
#include <string>
#include <vector>

namespace p2p::msg {

struct introspect_request {};
struct introspect_reply {
  std::string name;
  std::uint64_t mailbox = 0;  // messages waiting (approximate)
  std::uint64_t handled = 0;  // messages handled since this incarnation started
  std::string last_error;     // the last error it answered with, if any
  std::string state_json;     // a JSON object summarizing its state
  std::vector<std::string> commands;  // "name usage" of its safe commands
};

// Runs one of the actor's safe commands; the reply is JSON text.
struct console_command {
  std::string name;
  std::vector<std::string> args;
};

template <class F> auto inspect(F& f, introspect_request&) { return f(); }
template <class F> auto inspect(F& f, introspect_reply& x) {
  return f(x.name, x.mailbox, x.handled, x.last_error, x.state_json, x.commands);
}
template <class F> auto inspect(F& f, console_command& x) { return f(x.name, x.args); }

}  // namespace p2p::msg
