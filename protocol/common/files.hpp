#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace p2p::files {

// Writes `content` to a temporary file beside `path`, fsyncs it, renames it over `path` and
// fsyncs the directory: readers see the old or the new file, never a torn one.
// Throws std::runtime_error with the path and cause on failure.
void write_atomic(const std::filesystem::path& path, std::string_view content,
                  unsigned mode = 0644);

std::optional<std::string> read_all(const std::filesystem::path& path);

// Creates the directory (and parents) with mode 0700 for new ones; throws with a clear message.
void ensure_dir(const std::filesystem::path& dir);

}  // namespace p2p::files
