#include "protocol/registry.hpp"

#include <caf/actor_system_config.hpp>

#include "actors/node/supervisor.hpp"
#include "protocol/messages/admin.hpp"
#include "protocol/messages/directory.hpp"
#include "protocol/messages/events.hpp"
#include "protocol/messages/introspection.hpp"
#include "protocol/messages/membership.hpp"
#include "protocol/messages/raft.hpp"

namespace p2p {

void register_messages(caf::actor_system_config& cfg) {
  cfg.add_message_type<msg::health_request>("p2p.health_request")
      .add_message_type<msg::health_reply>("p2p.health_reply")
      .add_message_type<msg::shutdown_request>("p2p.shutdown_request")
      .add_message_type<msg::shutdown_reply>("p2p.shutdown_reply")
      .add_message_type<msg::log_level_request>("p2p.log_level_request")
      .add_message_type<msg::log_level_reply>("p2p.log_level_reply")
      .add_message_type<msg::status_request>("p2p.status_request")
      .add_message_type<msg::actor_status>("p2p.actor_status")
      .add_message_type<msg::status_reply>("p2p.status_reply")
      .add_message_type<msg::metrics_request>("p2p.metrics_request")
      .add_message_type<msg::metrics_reply>("p2p.metrics_reply")
      .add_message_type<msg::event_record>("p2p.event_record")
      .add_message_type<msg::publish_event>("p2p.publish_event")
      .add_message_type<msg::subscribe_events>("p2p.subscribe_events")
      .add_message_type<msg::subscribe_reply>("p2p.subscribe_reply")
      .add_message_type<msg::events_stats_request>("p2p.events_stats_request")
      .add_message_type<msg::events_stats>("p2p.events_stats")
      .add_message_type<msg::directory_entry>("p2p.directory_entry")
      .add_message_type<std::vector<msg::directory_entry>>("p2p.directory_entries")
      .add_message_type<msg::directory_update>("p2p.directory_update")
      .add_message_type<msg::directory_lookup>("p2p.directory_lookup")
      .add_message_type<msg::directory_list>("p2p.directory_list")
      .add_message_type<msg::directory_subscribe>("p2p.directory_subscribe")
      .add_message_type<msg::ping>("p2p.ping")
      .add_message_type<msg::pong>("p2p.pong")
      .add_message_type<msg::introspect_request>("p2p.introspect_request")
      .add_message_type<msg::introspect_reply>("p2p.introspect_reply")
      .add_message_type<msg::console_command>("p2p.console_command")
      .add_message_type<supervisor_stop>("p2p.supervisor_stop")
      .add_message_type<msg::identify_request>("p2p.identify_request")
      .add_message_type<msg::node_identity>("p2p.node_identity")
      .add_message_type<msg::routed>("p2p.routed")
      .add_message_type<msg::peer_endpoint>("p2p.peer_endpoint")
      .add_message_type<msg::peer_send>("p2p.peer_send")
      .add_message_type<msg::peer_request>("p2p.peer_request")
      .add_message_type<msg::peer_connect>("p2p.peer_connect")
      .add_message_type<msg::peers_request>("p2p.peers_request")
      .add_message_type<msg::peer_status>("p2p.peer_status")
      .add_message_type<msg::peers_reply>("p2p.peers_reply")
      .add_message_type<msg::swim_packet>("p2p.swim_packet")
      .add_message_type<msg::swim_learn>("p2p.swim_learn")
      .add_message_type<msg::swim_forget>("p2p.swim_forget")
      .add_message_type<msg::peer_lost>("p2p.peer_lost")
      .add_message_type<msg::swim_bulk_backlog>("p2p.swim_bulk_backlog")
      .add_message_type<msg::swim_subscribe>("p2p.swim_subscribe")
      .add_message_type<msg::membership_change>("p2p.membership_change")
      .add_message_type<msg::swim_leave_request>("p2p.swim_leave_request")
      .add_message_type<msg::swim_leave_reply>("p2p.swim_leave_reply")
      .add_message_type<msg::swim_status_request>("p2p.swim_status_request")
      .add_message_type<msg::swim_status_reply>("p2p.swim_status_reply")
      .add_message_type<msg::swim_members_request>("p2p.swim_members_request")
      .add_message_type<msg::swim_member>("p2p.swim_member")
      .add_message_type<msg::swim_members_reply>("p2p.swim_members_reply")
      .add_message_type<msg::gossip_exchange>("p2p.gossip_exchange")
      .add_message_type<msg::gossip_delta>("p2p.gossip_delta")
      .add_message_type<msg::gossip_peers_request>("p2p.gossip_peers_request")
      .add_message_type<msg::gossip_peer>("p2p.gossip_peer")
      .add_message_type<msg::gossip_peers_reply>("p2p.gossip_peers_reply")
      .add_message_type<raft::entry>("p2p.raft_entry")
      .add_message_type<raft::message>("p2p.raft_message")
      .add_message_type<msg::raft_wire>("p2p.raft_wire")
      .add_message_type<msg::raft_rpc>("p2p.raft_rpc")
      .add_message_type<msg::raft_rpc_reply>("p2p.raft_rpc_reply")
      .add_message_type<msg::raft_propose>("p2p.raft_propose")
      .add_message_type<msg::raft_applied>("p2p.raft_applied")
      .add_message_type<msg::raft_kv_put>("p2p.raft_kv_put")
      .add_message_type<msg::raft_kv_get>("p2p.raft_kv_get")
      .add_message_type<msg::raft_kv_reply>("p2p.raft_kv_reply")
      .add_message_type<msg::raft_members_request>("p2p.raft_members_request")
      .add_message_type<msg::raft_members_reply>("p2p.raft_members_reply")
      .add_message_type<msg::raft_status_request>("p2p.raft_status_request")
      .add_message_type<msg::raft_peer_progress>("p2p.raft_peer_progress")
      .add_message_type<msg::raft_status_reply>("p2p.raft_status_reply");
}

}  // namespace p2p
